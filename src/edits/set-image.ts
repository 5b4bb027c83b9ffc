/**
 * The edit engine behind `set-image`: validates every argument, reads and
 * computes every change, and only then writes. A bad file anywhere means
 * nothing is written. The remote write path (clone, commit, push) calls
 * planEdits on a checkout and writeEdits before committing.
 */
import {stat} from 'node:fs/promises'
import {posix} from 'node:path'
import picomatch from 'picomatch'
import {
  imageReferences,
  kustomizationReferences,
  needsMoreThanFiles
} from '../core/kustomize/references.js'
import type {EditPatterns} from '../git/sparse-set.js'
import {fsSource, kustomizationText, resolveRef, type TreeSource} from './kustomize-closure.js'
import {UsageError} from '../core/errors.js'
import {unifiedDiffs} from '../core/diff.js'
import {parseImageArgs} from '../core/kustomize/image-merge.js'
import {parseImageArg, splitImage, type ImageEntry} from '../core/kustomize/image-arg.js'
import {imageEntryProblem} from '../core/kustomize/image-reference.js'
import {
  invalidImageMessage,
  readImageEntries,
  setImagesInText
} from '../core/kustomize/kustomization-file.js'
import {parseSetArg, setValueInText, type SetArg} from '../core/yaml/set-value.js'
import {
  checkRelative,
  findKustomization,
  openRoot,
  readUtf8,
  resolveDirs,
  resolveInside,
  writeFiles
} from './workspace.js'
import {mapLimit} from '../core/map-limit.js'
import {ciSourceFromEnv, renderCommitMessage, type MessageChange} from '../core/commit-message.js'
import type {PrChange} from '../forge/pr-body.js'
import type {Edit} from './edit.js'
import {materialisedPlanner} from './materialise.js'

export interface EditRequest {
  paths: string[]
  images: string[]
  sets: string[]
  createKeys: boolean
  /**
   * --add-missing: with a glob or several paths, add an image entry even to
   * overlays that neither pin nor run the image (kustomize's own behaviour).
   */
  addMissing?: boolean
}

/** Per overlay, what happened to each image (dead-entry protection's report). */
export interface OverlayImages {
  /** The kustomization's directory, root-relative. */
  dir: string
  /** Entries this run changed or added. */
  set: string[]
  /** Entries that already had the value. */
  unchanged: string[]
  /** Images neither pinned nor run there, so left out (no dead entry). */
  skipped: string[]
}

export interface FileEdit {
  /** Root-relative, posix. */
  file: string
  image?: string
  key?: string
  before: string | null
  after: string | null
}

export interface FileChange {
  file: string
  before: string
  after: string
}

export type EditOutcome = {
  changed: boolean
  edits: FileEdit[]
  files: FileChange[]
  diff: string
  /** With --image: per overlay, which images were set, unchanged or skipped as unused. */
  overlays?: OverlayImages[]
  /** --add-missing: the edit may add entries no container runs (the render check lets them be). */
  addsUnused?: boolean
}

interface Validated {
  dirGlobs: string[]
  files: string[]
  sets: SetArg[]
}

function validate(request: EditRequest): Validated {
  if (request.images.length) {
    const parsed = parseImageArgs(request.images)
    if (parsed.kind === 'invalid') throw new UsageError(invalidImageMessage(parsed.arg))
    // Checked per argument so the message quotes the one the user wrote.
    for (const arg of request.images) {
      const one = parseImageArg(arg)
      const problem = one.kind === 'ok' ? imageEntryProblem(one.entry) : undefined
      if (problem) {
        throw new UsageError(`--image ${JSON.stringify(arg)}: ${problem}; fix the image reference`)
      }
    }
  }
  if (request.paths.length && !request.images.length) {
    throw new UsageError(
      '--path needs at least one --image; add --image <name>:<tag> (or use --set for other files)'
    )
  }
  if (!request.images.length && !request.sets.length) {
    throw new UsageError(
      'nothing to do: pass --image <name>:<tag> (with --path <dir>) or --set <file>:<key.path>=<value>'
    )
  }
  if (
    request.addMissing &&
    !(request.images.length && protectsDeadEntries({...request, addMissing: false}))
  ) {
    throw new UsageError(
      '--add-missing applies to --image with a glob or several --path values (one named overlay always gets the entry); drop --add-missing'
    )
  }
  // Like kustomize, which edits the kustomization in the current directory.
  const paths = request.images.length && !request.paths.length ? ['.'] : request.paths
  const dirGlobs = paths.map(p => checkRelative(p, '--path'))
  const sets = request.sets.map(parseSetArg)
  const files = sets.map(s => checkRelative(s.file, '--set file'))
  sets.forEach((s, i) => (s.file = files[i]))
  return {dirGlobs, files, sets}
}

/**
 * Dead-entry protection is on for a glob or several paths: there an image is
 * set only where it is pinned or run. One named overlay keeps kustomize's
 * add-the-entry behaviour, as does --add-missing.
 */
export function protectsDeadEntries(request: EditRequest): boolean {
  if (request.addMissing || request.images.length === 0) return false
  return request.paths.length > 1 || request.paths.some(p => picomatch.scan(p).isGlob)
}

/** Directory/file patterns the request needs (for sparse checkout): the patterns as given, validated. */
export function requestedPatterns(request: EditRequest): EditPatterns {
  const v = validate(request)
  return {
    dirGlobs: v.dirGlobs,
    files: [...new Set(v.files)],
    // Whether an overlay runs an image is read in its bases: they must be checked out.
    ...(protectsDeadEntries(request) ? {closure: true} : {})
  }
}

/** The entry name an image argument matches containers by. */
function argName(arg: string): string {
  const one = parseImageArg(arg)
  return one.kind === 'ok' ? (one.entry.name ?? '') : ''
}

interface Working {
  file: string
  real: string
  before: string
  after: string
}

/** Validates all args, reads, computes; writes nothing. Throws UsageError for bad input. */
export async function planEdits(root: string, request: EditRequest): Promise<EditOutcome> {
  const v = validate(request)
  const realRoot = await openRoot(root)
  const edits: FileEdit[] = []
  // Keyed by real path: two names for one file are edited once.
  const working = new Map<string, Working>()

  const overlays: OverlayImages[] = []
  if (request.images.length) {
    const dirs = await resolveDirs(realRoot, v.dirGlobs)
    const found = await mapLimit(dirs, 16, dir => findKustomization(realRoot, dir))
    // A symlinked directory can lead to a file already found: read and edit it once.
    const seen = new Set<string>()
    const locations = found.filter(loc => !seen.has(loc.real) && seen.add(loc.real))
    const texts = await mapLimit(locations, 16, loc => readUtf8(loc.real, loc.file))
    const names = request.images.map(argName)
    const usage = protectsDeadEntries(request) ? new ImageUsage(fsSource(realRoot)) : undefined
    const runs = usage
      ? await mapLimit(locations, 16, loc => usage.of(dirOf(loc.file)))
      : locations.map(() => 'unknown' as const)
    locations.forEach((loc, i) => {
      const used = runs[i]
      // Read even where no image applies: a broken kustomization is named, not skipped.
      const pinned = usage
        ? new Set(readImageEntries(texts[i], loc.file).map(e => e.name))
        : undefined
      const applies = (j: number) =>
        !pinned || used === 'unknown' || pinned.has(names[j]) || used.has(names[j])
      const args = request.images.filter((_, j) => applies(j))
      const skipped = names.filter((_, j) => !applies(j))
      const result = args.length
        ? setImagesInText(texts[i], args, loc.file)
        : {text: texts[i], changes: []}
      working.set(loc.real, {file: loc.file, real: loc.real, before: texts[i], after: result.text})
      for (const c of result.changes)
        edits.push({file: loc.file, image: c.image, before: c.before, after: c.after})
      const set = [...new Set(result.changes.map(c => c.image))]
      const unchanged = names.filter((n, j) => applies(j) && !set.includes(n))
      overlays.push({dir: dirOf(loc.file), set, unchanged, skipped})
    })
    if (usage) {
      const landed = new Set(overlays.flatMap(o => [...o.set, ...o.unchanged]))
      const lost = request.images.filter((_, j) => !landed.has(names[j]))
      if (lost.length > 0) {
        const running = [...new Set(runs.flatMap(r => (r === 'unknown' ? [] : [...r])))]
        throw new UsageError(
          `--image ${lost.map(a => JSON.stringify(a)).join(', ')}: no overlay matched by --path ${request.paths.join(', ')} pins or runs an image named ${lost.map(a => `'${argName(a)}'`).join(', ')} (images there: ${running.slice(0, 10).join(', ') || 'none'}); check the name for a typo, or pass --add-missing to add the entry to every matched overlay anyway`
        )
      }
    }
  }

  for (const set of v.sets) {
    const real = await resolveInside(realRoot, set.file, '--set file')
    if (!(await stat(real)).isFile())
      throw new UsageError(`--set file ${JSON.stringify(set.file)} is not a file; name a YAML file`)
    let w = working.get(real)
    if (!w) {
      const text = await readUtf8(real, set.file)
      w = {file: set.file, real, before: text, after: text}
      working.set(real, w)
    }
    const result = setValueInText(w.after, set, {createKeys: request.createKeys, label: w.file})
    if (result.kind === 'changed') {
      w.after = result.text
      edits.push({file: w.file, key: set.keyPath, before: result.before, after: result.after})
    }
  }

  const files = [...working.values()]
    .filter(w => w.after !== w.before)
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    .map(w => ({file: w.file, before: w.before, after: w.after}))
  return {
    changed: files.length > 0,
    edits,
    files,
    diff: unifiedDiffs(files),
    ...(protectsDeadEntries(request) ? {overlays} : {}),
    ...(request.addMissing ? {addsUnused: true} : {})
  }
}

function dirOf(file: string): string {
  const d = posix.dirname(file)
  return d === '.' ? '' : d
}

/**
 * Which images an overlay runs, read statically the way kustomize composes
 * them: the `image:` fields of the files it refers to, plus what each base or
 * component emits after that base's own `images:` renames (a base mapping
 * `web` to `ghcr.io/acme/web` emits only the new name). The overlay's own
 * entries are not applied: its transformer matches the names it receives. A
 * Helm chart or a remote base can run anything: 'unknown' (the entry is then
 * set, and the render check sees the truth).
 */
class ImageUsage {
  private readonly scans = new Map<string, Promise<Set<string>>>()
  private readonly emitted = new Map<string, Promise<Set<string> | 'unknown'>>()
  constructor(private readonly source: TreeSource) {}

  /** The image names reaching `dir`'s own image transformer. */
  async of(dir: string, seen: ReadonlySet<string> = new Set()): Promise<Set<string> | 'unknown'> {
    const text = await kustomizationText(this.source, dir)
    if (text === undefined) return new Set()
    if (needsMoreThanFiles(text)) return 'unknown'
    const names = new Set<string>()
    for (const ref of kustomizationReferences(text)) {
      const path = resolveRef(dir, ref)
      if (path === undefined) continue
      const kind = await this.source.kind(path)
      let found: Set<string> | 'unknown'
      if (kind === 'file') found = await this.scan(path)
      else if (kind !== 'dir' || seen.has(path)) continue
      else found = await this.emits(path, new Set([...seen, dir]))
      if (found === 'unknown') return 'unknown'
      found.forEach(n => names.add(n))
    }
    return names
  }

  /** What `dir` emits: its input names after its own `images:` renames. */
  private emits(dir: string, seen: ReadonlySet<string>): Promise<Set<string> | 'unknown'> {
    let p = this.emitted.get(dir)
    if (!p) {
      p = (async () => {
        const text = await kustomizationText(this.source, dir)
        // A directory of plain manifests (no kustomization) emits what its files run.
        if (text === undefined) return this.scanDir(dir)
        const names = await this.of(dir, seen)
        if (names === 'unknown') return names
        for (const e of entriesOf(text)) {
          if (e.name !== undefined && e.newName !== undefined && names.delete(e.name)) {
            names.add(e.newName)
          }
        }
        return names
      })()
      this.emitted.set(dir, p)
    }
    return p
  }

  private async scanDir(dir: string): Promise<Set<string>> {
    const names = new Set<string>()
    for (const e of await this.source.list(dir)) {
      const found = e.kind === 'file' ? await this.scan(e.path) : await this.scanDir(e.path)
      found.forEach(n => names.add(n))
    }
    return names
  }

  private scan(file: string): Promise<Set<string>> {
    let p = this.scans.get(file)
    if (!p) {
      p = this.read(file)
      this.scans.set(file, p)
    }
    return p
  }

  private async read(file: string): Promise<Set<string>> {
    const out = new Set<string>()
    if (!/\.(ya?ml|json)$/i.test(file)) return out
    const text = (await this.source.read(file))?.toString('utf8') ?? ''
    for (const ref of imageReferences(text)) out.add(splitImage(ref).name)
    return out
  }
}

/** A kustomization's image entries; none when it does not parse (the render check says why). */
function entriesOf(text: string): ImageEntry[] {
  try {
    return readImageEntries(text)
  } catch {
    return []
  }
}

/** Writes the `after` text of every changed file (the one workspace writer). */
export async function writeEdits(root: string, outcome: EditOutcome): Promise<void> {
  await writeFiles(root, outcome.files)
}

// ------------------------------------------------------------ the edit ---

/** The change lines of a commit message. */
export function messageChanges(outcome: EditOutcome): MessageChange[] {
  return outcome.edits.map(e => ({
    file: e.file,
    name: e.image ?? e.key ?? '',
    kind: e.image !== undefined ? 'image' : 'key',
    before: e.before,
    after: e.after
  }))
}

/** The change lines of a PR body. */
export function prChanges(outcome: EditOutcome): PrChange[] {
  if (!outcome.changed) return []
  return outcome.edits.map(e => ({
    file: e.file,
    ...(e.image !== undefined ? {image: e.image} : {}),
    ...(e.key !== undefined ? {key: e.key} : {}),
    before: e.before ?? '',
    after: e.after ?? ''
  }))
}

function utf8Writes(o: EditOutcome) {
  return o.files.map(f => ({path: f.file, content: Buffer.from(f.after, 'utf8')}))
}

/** `set-image` as an edit any delivery mode can carry. */
export function setImageEdit(request: EditRequest): Edit<EditOutcome> {
  // Validates every argument before anything is cloned or read.
  const patterns = requestedPatterns(request)
  const api = materialisedPlanner(patterns, root => planEdits(root, request), utf8Writes)
  return {
    patterns,
    plan: root => planEdits(root, request),
    write: writeEdits,
    planApi: view => api.plan(view),
    writes: o =>
      o.files.map(f => ({
        path: f.file,
        before: f.before,
        after: f.after,
        ...(o.addsUnused ? {addsUnusedImages: true} : {})
      })),
    prChanges,
    message: (o, ctx) =>
      renderCommitMessage(ctx.template, {
        changes: messageChanges(o),
        paths: request.paths,
        branch: ctx.branch,
        source: ciSourceFromEnv(ctx.env)
      }),
    pr: {
      // Like the local command: images without --path edit the root kustomization.
      paths:
        request.paths.length > 0
          ? request.paths
          : request.images.length > 0
            ? ['.']
            : request.sets.map(x => x.split(':')[0])
    }
  }
}
