/**
 * The edit engine behind `set-image`: validates every argument, reads and
 * computes every change, and only then writes. A bad file anywhere means
 * nothing is written. The remote write path (clone, commit, push) calls
 * planEdits on a checkout and writeEdits before committing.
 */
import {stat} from 'node:fs/promises'
import {UsageError} from '../core/errors.js'
import {unifiedDiffs} from '../core/diff.js'
import {parseImageArgs} from '../core/kustomize/image-merge.js'
import {parseImageArg} from '../core/kustomize/image-arg.js'
import {imageEntryProblem} from '../core/kustomize/image-reference.js'
import {invalidImageMessage, setImagesInText} from '../core/kustomize/kustomization-file.js'
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

export type EditOutcome = {changed: boolean; edits: FileEdit[]; files: FileChange[]; diff: string}

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
  // Like kustomize, which edits the kustomization in the current directory.
  const paths = request.images.length && !request.paths.length ? ['.'] : request.paths
  const dirGlobs = paths.map(p => checkRelative(p, '--path'))
  const sets = request.sets.map(parseSetArg)
  const files = sets.map(s => checkRelative(s.file, '--set file'))
  sets.forEach((s, i) => (s.file = files[i]))
  return {dirGlobs, files, sets}
}

/** Directory/file patterns the request needs (for sparse checkout): the patterns as given, validated. */
export function requestedPatterns(request: EditRequest): {dirGlobs: string[]; files: string[]} {
  const v = validate(request)
  return {dirGlobs: v.dirGlobs, files: [...new Set(v.files)]}
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

  if (request.images.length) {
    const dirs = await resolveDirs(realRoot, v.dirGlobs)
    const found = await mapLimit(dirs, 16, dir => findKustomization(realRoot, dir))
    // A symlinked directory can lead to a file already found: read and edit it once.
    const seen = new Set<string>()
    const locations = found.filter(loc => !seen.has(loc.real) && seen.add(loc.real))
    const texts = await mapLimit(locations, 16, loc => readUtf8(loc.real, loc.file))
    locations.forEach((loc, i) => {
      const result = setImagesInText(texts[i], request.images, loc.file)
      working.set(loc.real, {file: loc.file, real: loc.real, before: texts[i], after: result.text})
      for (const c of result.changes)
        edits.push({file: loc.file, image: c.image, before: c.before, after: c.after})
    })
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
  return {changed: files.length > 0, edits, files, diff: unifiedDiffs(files)}
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
    writes: o => o.files.map(f => ({path: f.file, before: f.before, after: f.after})),
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
