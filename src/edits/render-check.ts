/**
 * The render check: before anything is committed, every kustomization the
 * edit touched is rendered, with the planned writes applied, in a scratch
 * copy of what the render reads. A render that fails (and did render before
 * the edit), or that does not run an image the edit set, refuses the edit;
 * the remote stays untouched. A guard like the secret guards, so it runs on
 * every mode and transport, and again on every re-plan.
 */
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {availableParallelism, tmpdir} from 'node:os'
import {dirname, join, posix} from 'node:path'
import {onInterrupt} from '../core/cleanup.js'
import {UsageError} from '../core/errors.js'
import {mapLimit} from '../core/map-limit.js'
import {isKustomizationFile, readImageEntries} from '../core/kustomize/kustomization-file.js'
import {splitImage, type ImageEntry} from '../core/kustomize/image-arg.js'
import {imageReferences} from '../core/kustomize/references.js'
import type {CheckReport, Guard, GuardContext, PlannedWrite} from './edit.js'
import {
  fsSource,
  kustomizeClosure,
  nearestKustomization,
  viewSource,
  type TreeSource
} from './kustomize-closure.js'
import type {NamedRenderer, RenderResult} from './renderer.js'

export type RenderCheckMode = 'auto' | 'always' | 'never'
export const RENDER_CHECK_MODES: readonly RenderCheckMode[] = ['auto', 'always', 'never']

/** Renders at once: kustomize is CPU-bound, and CI runners are small. */
export function renderLimit(): number {
  return Math.max(2, Math.min(8, availableParallelism()))
}

const OPT_OUT = 'or pass --render-check never to push without rendering'

function sourceOf(ctx: GuardContext): TreeSource {
  if (ctx.view) return viewSource(ctx.view)
  if (ctx.root !== undefined) return fsSource(ctx.root)
  throw new Error('render check: the guard got neither a tree nor a view')
}

/** The kustomizations the writes touch: each written file's own or nearest enclosing one. */
async function touchedKustomizations(
  source: TreeSource,
  writes: PlannedWrite[]
): Promise<string[]> {
  const dirs = new Set<string>()
  for (const w of writes) {
    if (isKustomizationFile(w.path)) {
      const d = posix.dirname(w.path)
      dirs.add(d === '.' ? '' : d)
      continue
    }
    const d = await nearestKustomization(source, w.path)
    if (d !== undefined) dirs.add(d)
  }
  return [...dirs].sort()
}

interface ImageWant {
  kustomization: string
  /** The entry's `name` (what the containers are matched by). */
  entry: string
  name: string
  tag?: string
  digest?: string
}

/** The image entries of a kustomization text by name; none when it does not parse (the render says why). */
function imageEntries(text: string | null): Map<string, ImageEntry> {
  if (!text) return new Map()
  try {
    return new Map(readImageEntries(text).map(e => [e.name ?? '', e]))
  } catch {
    return new Map()
  }
}

/** The images a kustomization write set or changed, as the render must show them. */
function imagesSet(w: PlannedWrite): ImageWant[] {
  if (!isKustomizationFile(w.path) || w.addsUnusedImages) return []
  const before = imageEntries(w.before)
  const wants: ImageWant[] = []
  for (const [entry, after] of imageEntries(w.after)) {
    if (entry === '*' || JSON.stringify(before.get(entry)) === JSON.stringify(after)) continue
    const d = posix.dirname(w.path)
    wants.push({
      kustomization: d === '.' ? '' : d,
      entry,
      name: after.newName ?? entry,
      ...(after.newTag !== undefined ? {tag: after.newTag} : {}),
      ...(after.digest !== undefined ? {digest: after.digest} : {})
    })
  }
  return wants
}

function runs(images: string[], want: ImageWant): boolean {
  return images
    .map(splitImage)
    .some(
      r =>
        r.name === want.name &&
        (want.digest ? r.digest === want.digest : want.tag ? r.tag === want.tag : true)
    )
}

function shown(want: ImageWant): string {
  return `${want.name}${want.tag ? `:${want.tag}` : ''}${want.digest ? `@${want.digest}` : ''}`
}

function where(dir: string): string {
  return dir || '(the root)'
}

async function place(tree: string, path: string, content: Buffer | string): Promise<void> {
  await mkdir(dirname(join(tree, path)), {recursive: true})
  await writeFile(join(tree, path), content)
}

/** The annotation that tells which overlay a rendered document came from, in a batch. */
const ORIGIN = 'gitops-deploy.render/overlay'
/** Overlays per renderer process: its start-up costs more than a small overlay's render. */
const BATCH = 50

/**
 * Renders `dirs` in as few renderer processes as the limit allows: each batch
 * is one kustomization that wraps every member (a name suffix keeps their
 * resources apart, an annotation says whose each document is). A batch that
 * fails is rendered member by member, so a failure is always named per overlay.
 */
async function renderBatched(
  dirs: string[],
  tree: string,
  tmp: string,
  limit: number,
  one: (dirs: string[]) => Promise<RenderResult[]>
): Promise<Map<string, RenderResult>> {
  const out = new Map<string, RenderResult>()
  const alone = async (members: string[]) =>
    (await one(members)).forEach((r, i) => out.set(members[i], r))
  if (dirs.length <= 2) {
    await alone(dirs)
    return out
  }
  const size = Math.min(BATCH, Math.ceil(dirs.length / limit))
  const batches: string[][] = []
  for (let i = 0; i < dirs.length; i += size) batches.push(dirs.slice(i, i + size))
  const root = join(tmp, 'batches')
  const numbered = batches.map((members, b) => ({members, b}))
  await mapLimit(numbered, limit, async ({members, b}) => {
    const batch = join(root, String(b))
    await mkdir(batch, {recursive: true})
    const wrappers = await Promise.all(
      members.map(async (dir, m) => {
        const wrapper = join(batch, `w${m}`)
        await mkdir(wrapper, {recursive: true})
        const target = posix.relative(
          wrapper.split('\\').join('/'),
          join(tree, dir).split('\\').join('/')
        )
        await writeFile(
          join(wrapper, 'kustomization.yaml'),
          `resources:\n  - ${JSON.stringify(target)}\nnameSuffix: ${JSON.stringify(`-gd${m}`)}\ncommonAnnotations:\n  ${ORIGIN}: ${JSON.stringify(dir)}\n`
        )
        return `w${m}`
      })
    )
    await writeFile(
      join(batch, 'kustomization.yaml'),
      `resources:\n${wrappers.map(w => `  - ${w}`).join('\n')}\n`
    )
    const [r] = await one([posix.relative(tree, batch)])
    if (r.kind === 'unavailable') {
      members.forEach(d => out.set(d, r))
      return
    }
    if (r.kind === 'failed') return alone(members)
    const docs = new Map<string, string[]>(members.map(d => [d, []]))
    for (const doc of r.yaml.split(/^---$/m)) {
      const dir = originOf(doc)
      if (dir !== undefined) docs.get(dir)?.push(doc)
    }
    for (const d of members) out.set(d, {kind: 'rendered', yaml: docs.get(d)!.join('---')})
  })
  return out
}

/** The overlay a batched document came from (the first origin annotation in it). */
function originOf(doc: string): string | undefined {
  const key = `${ORIGIN}: `
  for (const line of doc.split('\n')) {
    const i = line.indexOf(key)
    if (i < 0) continue
    const value = line.slice(i + key.length).trim()
    return value.startsWith('"') ? (JSON.parse(value) as string) : value.replace(/^'|'$/g, '')
  }
  return undefined
}

export interface RenderCheckOptions {
  mode: RenderCheckMode
  renderer: NamedRenderer
  /** Renders at once (default: renderLimit()). */
  limit?: number
}

/**
 * The guard. `auto` without a renderer reports itself skipped; `always`
 * without one refuses (exit 2). A kustomization that did not render before
 * the edit either (Helm charts without --enable-helm, a remote base the
 * runner cannot reach) is reported, not refused: the edit did not break it.
 */
export function renderCheckGuard(options: RenderCheckOptions): Guard {
  return async (writes, ctx): Promise<CheckReport> => {
    const none = (status: CheckReport['status'], text: string): CheckReport => ({
      check: 'render',
      status,
      text,
      rendered: []
    })
    if (options.mode === 'never') return none('off', 'render check off (--render-check never)')
    const source = sourceOf(ctx)
    const touched = await touchedKustomizations(source, writes)
    if (touched.length === 0) {
      return none(
        'none',
        'render check: nothing to render (no written file belongs to a kustomization)'
      )
    }
    const closure = await kustomizeClosure(source, touched)
    const tmp = await mkdtemp(join(tmpdir(), 'gitops-deploy-render-'))
    const forget = onInterrupt(() => rm(tmp, {recursive: true, force: true}))
    const tree = join(tmp, 'tree')
    try {
      await mkdir(tree, {recursive: true})
      await mapLimit(closure.files, 16, async f => {
        const content = await source.read(f)
        if (content !== undefined) await place(tree, f, content)
      })
      for (const w of writes) await place(tree, w.path, w.after)
      const limit = options.limit ?? renderLimit()
      const render = (dirs: string[]) =>
        mapLimit(dirs, limit, async d => {
          const r = await options.renderer.render(d ? join(tree, d) : tree)
          return r.kind === 'failed'
            ? {...r, message: r.message.replaceAll(`${tree}/`, '').replaceAll(tree, '.')}
            : r
        })
      const after = await renderBatched(touched, tree, tmp, limit, render)
      const unavailable = [...after.values()].find(r => r.kind === 'unavailable')
      if (unavailable) {
        if (options.mode === 'always') {
          throw new UsageError(
            `--render-check always: ${unavailable.message}, or use --render-check auto to skip the check where no renderer exists`
          )
        }
        return none('skipped', `render check skipped: ${unavailable.message}`)
      }
      const failed = touched.filter(d => after.get(d)!.kind === 'failed')
      const notes: string[] = []
      const broken: string[] = []
      if (failed.length > 0) {
        // Was it this edit? Put the files back as they were and render those again.
        for (const w of writes) {
          if (w.before === null) await rm(join(tree, w.path), {force: true})
          else await place(tree, w.path, w.before)
        }
        const before = await render(failed)
        failed.forEach((d, i) => {
          const msg = (after.get(d) as {message: string}).message
          if (before[i].kind === 'failed') {
            notes.push(`${where(d)} did not render before this change either (${msg}); not checked`)
          } else broken.push(`${where(d)}: ${msg}`)
        })
      }
      if (broken.length > 0) {
        throw new UsageError(
          `render check: ${broken.length === 1 ? 'a kustomization does' : `${broken.length} kustomizations do`} not render after this change, so nothing was pushed: ${broken.join('; ')}. Fix the edit, ${OPT_OUT}`
        )
      }
      const unused: string[] = []
      for (const want of writes.flatMap(imagesSet)) {
        const r = after.get(want.kustomization)
        if (r?.kind !== 'rendered') continue
        const images = imageReferences(r.yaml)
        // A render without any container (only config, or no resources yet) cannot tell a typo.
        if (images.length === 0 || runs(images, want)) continue
        const names = [...new Set(images.map(i => splitImage(i).name))].slice(0, 8)
        unused.push(
          `${where(want.kustomization)} sets ${want.entry} to ${shown(want)}, but no container there runs it (rendered images: ${names.join(', ') || 'none'})`
        )
      }
      if (unused.length > 0) {
        throw new UsageError(
          `render check: ${unused.join('; ')}. The entry would change nothing in the cluster: check the image name (kustomize matches the container image without its tag), ${OPT_OUT}`
        )
      }
      const ok = touched.filter(d => after.get(d)!.kind === 'rendered')
      const tool = options.renderer.tool() ?? 'kustomize'
      return {
        check: 'render',
        status: 'passed',
        text: `render check: ${ok.length} kustomization${ok.length === 1 ? '' : 's'} rendered with ${tool}${notes.length ? `; ${notes.join('; ')}` : ''}`,
        rendered: ok,
        tool,
        ...(notes.length ? {notes} : {})
      }
    } finally {
      await rm(tmp, {recursive: true, force: true})
      forget()
    }
  }
}
