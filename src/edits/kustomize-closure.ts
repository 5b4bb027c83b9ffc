/**
 * What rendering a kustomization needs: its directory's files, and every
 * local path it refers to (bases, components, patches, generator files),
 * transitively. Read through a TreeSource so the same walk serves a working
 * tree, a sparse git checkout (which widens as the walk goes) and a commit
 * read through the forge API.
 */
import {lstat, readFile, readdir, stat} from 'node:fs/promises'
import {join, posix} from 'node:path'
import {kustomizationReferences} from '../core/kustomize/references.js'
import {KUSTOMIZATION_FILE_NAMES} from '../core/kustomize/kustomization-file.js'
import {mapLimit} from '../core/map-limit.js'
import type {RemoteView} from '../forge/repo-api.js'

export type EntryKind = 'file' | 'dir'

/** A read-only view of one snapshot of the config repo; paths are repo-relative, `''` the root. */
export interface TreeSource {
  kind(path: string): Promise<EntryKind | undefined>
  /** The entries directly in `dir` (repo-relative paths). */
  list(dir: string): Promise<{path: string; kind: EntryKind}[]>
  read(path: string): Promise<Buffer | undefined>
  /** Makes these directories readable before a round of reads (a sparse checkout widens). */
  prefetch?(dirs: string[]): Promise<void>
}

const LIMIT = 16

function join2(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name
}

/** `dir` + `ref`, normalised; undefined when it leaves the repository. */
export function resolveRef(dir: string, ref: string): string | undefined {
  const p = posix.normalize(posix.join(dir || '.', ref))
  if (p === '..' || p.startsWith('../') || posix.isAbsolute(p)) return undefined
  return p === '.' ? '' : p.replace(/\/$/, '')
}

/** The working tree at `root`; symlinks are followed (the renderer follows them too). */
export function fsSource(root: string): TreeSource {
  const at = (p: string) => (p ? join(root, p) : root)
  const kindOf = async (p: string): Promise<EntryKind | undefined> => {
    const s = await stat(at(p)).catch(() => undefined)
    return s?.isDirectory() ? 'dir' : s?.isFile() ? 'file' : undefined
  }
  return {
    kind: kindOf,
    async list(dir) {
      const names = await readdir(at(dir)).catch(() => [] as string[])
      const out: {path: string; kind: EntryKind}[] = []
      for (const name of names) {
        if (name === '.git') continue
        const path = join2(dir, name)
        const l = await lstat(at(path))
        const kind = l.isSymbolicLink() ? await kindOf(path) : l.isDirectory() ? 'dir' : 'file'
        if (kind) out.push({path, kind})
      }
      return out
    },
    read: p => readFile(at(p)).catch(() => undefined)
  }
}

/** One commit read through the forge API (symlinks are not followed there). */
export function viewSource(view: RemoteView): TreeSource {
  const kindOf = (k: string | undefined): EntryKind | undefined =>
    k === 'dir' ? 'dir' : k === 'file' ? 'file' : undefined
  return {
    async kind(path) {
      if (path === '') return 'dir'
      return kindOf((await view.entry(path))?.kind)
    },
    async list(dir) {
      const entries = (await view.listDir(dir)) ?? []
      return entries.flatMap(e => {
        const kind = kindOf(e.kind)
        return kind ? [{path: e.path, kind}] : []
      })
    },
    async read(path) {
      const file = await view.read(path)
      return file?.kind === 'file' ? file.content : undefined
    }
  }
}

export interface Closure {
  /** Directories holding a kustomization the walk reached (the start ones first). */
  kustomizations: string[]
  /** Every file a render of them reads. */
  files: string[]
}

/** The kustomization file among `entries` (kustomize's name order), as a repo-relative path. */
function kustomizationIn(entries: {path: string; kind: EntryKind}[]): string | undefined {
  const names = new Set(entries.filter(e => e.kind === 'file').map(e => posix.basename(e.path)))
  const name = KUSTOMIZATION_FILE_NAMES.find(n => names.has(n))
  return name && entries.find(e => posix.basename(e.path) === name)!.path
}

/** The text of `dir`'s kustomization; undefined when the directory holds none. */
export async function kustomizationText(
  source: TreeSource,
  dir: string
): Promise<string | undefined> {
  const file = kustomizationIn(await source.list(dir))
  return file === undefined ? undefined : ((await source.read(file))?.toString('utf8') ?? '')
}

/** The directory of `file` or the nearest one above it that holds a kustomization. */
export async function nearestKustomization(
  source: TreeSource,
  file: string
): Promise<string | undefined> {
  for (let d = posix.dirname(file); ; d = posix.dirname(d)) {
    const dir = d === '.' ? '' : d
    if (kustomizationIn(await source.list(dir))) return dir
    if (dir === '') return undefined
  }
}

async function allFiles(source: TreeSource, dir: string, out: Set<string>): Promise<void> {
  for (const e of await source.list(dir)) {
    if (e.kind === 'file') out.add(e.path)
    else await allFiles(source, e.path, out)
  }
}

/**
 * Walks from `start` (directories; those without a kustomization are left
 * out) through every local reference, breadth first: one `prefetch` per
 * level, so a sparse checkout widens a few times, not once per file.
 */
export async function kustomizeClosure(source: TreeSource, start: string[]): Promise<Closure> {
  const seen = new Set<string>()
  const kustomizations: string[] = []
  const files = new Set<string>()
  let level = [...new Set(start)]
  while (level.length > 0) {
    level.forEach(d => seen.add(d))
    await source.prefetch?.(level)
    const next = await mapLimit(level, LIMIT, async dir => {
      const entries = await source.list(dir)
      const file = kustomizationIn(entries)
      if (!file) return []
      kustomizations.push(dir)
      for (const e of entries) if (e.kind === 'file') files.add(e.path)
      const text = (await source.read(file))?.toString('utf8') ?? ''
      const found: string[] = []
      for (const ref of kustomizationReferences(text)) {
        const path = resolveRef(dir, ref)
        if (path === undefined) continue
        const kind = await source.kind(path)
        if (kind === 'file') files.add(path)
        else if (kind === 'dir') {
          if (kustomizationIn(await source.list(path))) found.push(path)
          else await allFiles(source, path, files)
        }
      }
      return found
    })
    level = [...new Set(next.flat())].filter(d => !seen.has(d))
  }
  return {kustomizations, files: [...files].sort()}
}
