import {mkdir, mkdtemp, readdir, rm, writeFile} from 'node:fs/promises'
import {onInterrupt} from '../core/cleanup.js'
import {tmpdir} from 'node:os'
import {join, sep} from 'node:path'
import {kustomizeClosure, viewSource} from './kustomize-closure.js'
import picomatch from 'picomatch'
import {mapLimit} from '../core/map-limit.js'
import {KUSTOMIZATION_FILE_NAMES} from './workspace.js'
import {isKustomizationFile} from '../core/kustomize/kustomization-file.js'
import type {EditPatterns} from '../git/sparse-set.js'
import type {ApiPlanner, PlanOutcome} from './edit.js'
import {
  TransportUnavailable,
  baseName,
  parentOf,
  type FileWrite,
  type RemoteView,
  type TreeEntry
} from '../forge/repo-api.js'

const LIMIT = 8

function symlinkRefusal(path: string): TransportUnavailable {
  return new TransportUnavailable(
    `${path} is a symlink; the API transport does not follow symlinks (the git transport does, confined to the repository)`
  )
}

/**
 * The API face of any edit: a temporary directory is filled with what the
 * edit reads (the kustomizations of the matched directories and the named
 * files) as they are at the snapshot commit, the edit's own working-tree
 * planner runs there, and its result becomes the writes. So the plan, its
 * refusals and its messages are the local ones. Literal paths cost one
 * listing per directory; globs one tree listing. Symlinks are not followed
 * over the API (TransportUnavailable: `auto` falls back to git, which does).
 */
export function materialisedPlanner<O extends PlanOutcome>(
  patterns: EditPatterns,
  plan: (root: string) => Promise<O>,
  writes: (outcome: O) => FileWrite[]
): ApiPlanner<O> {
  const globby = [...patterns.dirGlobs, ...patterns.files].some(p => picomatch.scan(p).isGlob)
  return {
    async plan(view) {
      const dir = await mkdtemp(join(tmpdir(), 'gitops-deploy-api-'))
      const forget = onInterrupt(() => rm(dir, {recursive: true, force: true}))
      try {
        if (globby) await materialiseFromTree(view, patterns, dir)
        else await materialiseLiteral(view, patterns, dir)
        if (patterns.closure) await materialiseClosure(view, dir)
        const outcome = await plan(dir)
        return {outcome, writes: outcome.changed ? writes(outcome) : []}
      } finally {
        await rm(dir, {recursive: true, force: true})
        forget()
      }
    }
  }
}

/** Adds what rendering the placed kustomizations reads (bases, components, patches). */
async function materialiseClosure(view: RemoteView, root: string): Promise<void> {
  const placed = await readdir(root, {recursive: true})
  const start = placed
    .map(p => p.split(sep).join('/'))
    .filter(p => isKustomizationFile(p))
    .map(p => parentOf(p))
  const closure = await kustomizeClosure(viewSource(view), start)
  await mapLimit(closure.files, LIMIT, async f => {
    const file = await view.read(f)
    if (file?.kind !== 'file') return
    await mkdir(join(root, parentOf(f)), {recursive: true})
    await writeFile(join(root, f), file.content)
  })
}

async function place(view: RemoteView, root: string, entry: TreeEntry): Promise<void> {
  if (entry.kind === 'link') throw symlinkRefusal(entry.path)
  if (entry.kind !== 'file') {
    await mkdir(join(root, entry.path), {recursive: true})
    return
  }
  const file = await view.read(entry.path, entry)
  if (!file) return
  if (file.kind === 'link') throw symlinkRefusal(entry.path)
  await mkdir(join(root, parentOf(entry.path)), {recursive: true})
  if (file.kind === 'dir') await mkdir(join(root, entry.path), {recursive: true})
  else await writeFile(join(root, entry.path), file.content)
}

async function materialiseLiteral(
  view: RemoteView,
  patterns: {dirGlobs: string[]; files: string[]},
  root: string
): Promise<void> {
  const wanted: TreeEntry[] = []
  await mapLimit(patterns.dirGlobs, LIMIT, async d => {
    const dir = d === '.' ? '' : d
    const entries = await view.listDir(dir)
    // Absent: leave it absent, the engine reports it with its own message.
    if (!entries) return
    await mkdir(join(root, dir), {recursive: true})
    wanted.push(...entries.filter(e => isKustomizationFile(e.path)))
  })
  await mapLimit(wanted, LIMIT, e => place(view, root, e))
  await mapLimit(patterns.files, LIMIT, async f => {
    if (!(await placeAncestors(view, root, f))) return
    const file = await view.read(f)
    if (!file) return
    if (file.kind === 'link') throw symlinkRefusal(f)
    await mkdir(join(root, parentOf(f)), {recursive: true})
    if (file.kind === 'dir') await mkdir(join(root, f), {recursive: true})
    else await writeFile(join(root, f), file.content)
  })
}

async function materialiseFromTree(
  view: RemoteView,
  patterns: {dirGlobs: string[]; files: string[]},
  root: string
): Promise<void> {
  const entries = await view.listTree()
  const byPath = new Map(entries.map(e => [e.path, e]))
  const dirs = new Set<string>()
  for (const e of entries) {
    if (e.kind === 'dir') dirs.add(e.path)
    for (let d = parentOf(e.path); d; d = parentOf(d)) dirs.add(d)
  }
  // What the engine's directory walk would see: it skips these, and dot directories unless asked.
  const walkable = [...dirs].filter(
    d => !d.split('/').some(s => s === '.git' || s === 'node_modules')
  )
  const matched = new Set<string>()
  for (const pattern of patterns.dirGlobs) {
    if (!picomatch.scan(pattern).isGlob) {
      if (pattern === '.' || dirs.has(pattern)) matched.add(pattern === '.' ? '' : pattern)
      continue
    }
    const isMatch = picomatch(pattern, {dot: /(^|\/)\./.test(pattern)})
    for (const d of walkable) if (isMatch(d)) matched.add(d)
    // `base/**` also matches `base` itself in the engine.
    const base = picomatch.scan(pattern).base
    if (pattern.includes('**') && base && dirs.has(base)) matched.add(base)
  }
  const wanted: TreeEntry[] = []
  for (const d of matched) {
    await mkdir(join(root, d), {recursive: true})
    for (const name of KUSTOMIZATION_FILE_NAMES) {
      const e = byPath.get(d ? `${d}/${name}` : name)
      if (e) wanted.push(e)
    }
  }
  for (const f of patterns.files) {
    if (picomatch.scan(f).isGlob) {
      const isMatch = picomatch(f, {dot: true})
      for (const e of entries) if (e.kind !== 'dir' && isMatch(e.path)) wanted.push(e)
    } else {
      const e = byPath.get(f)
      if (e) wanted.push(e)
    }
  }
  await mapLimit(wanted, LIMIT, e => place(view, root, e))
}

/**
 * What lies on a named file's path decides where a write would land: a
 * symlinked directory is refused (the write would land elsewhere, and the
 * git transport follows it confined to the repository); a file where a
 * directory should be is placed so the planner names the problem. True when
 * every ancestor is a directory (the file itself is then read).
 */
async function placeAncestors(view: RemoteView, root: string, path: string): Promise<boolean> {
  const parts = path.split('/')
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join('/')
    const entry = await view.entry(dir)
    if (!entry) return false
    if (entry.kind === 'link') throw symlinkRefusal(dir)
    if (entry.kind === 'dir') continue
    await mkdir(join(root, parentOf(dir)), {recursive: true})
    const file = entry.kind === 'file' ? await view.read(dir, entry) : undefined
    await writeFile(join(root, dir), file?.kind === 'file' ? file.content : '')
    return false
  }
  return true
}
