import {readFileSync, readdirSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'
import ts from 'typescript'

/**
 * The dependency rule of docs/architecture.md, as data: a folder may import
 * from its own floor and any floor below it, never above. argocd and changes
 * are vertical slices: they import only git, platform and core, and the
 * edits and the floors above them may use them.
 */
export const FLOORS: Record<string, number> = {
  adapters: 9,
  commands: 8,
  promote: 7,
  delivery: 6,
  edits: 5,
  forge: 4,
  git: 3,
  platform: 1,
  core: 0
}
export const SLICES: Record<string, string[]> = {
  argocd: ['git', 'platform', 'core'],
  changes: ['git', 'platform', 'core']
}

export interface Edge {
  from: string
  to: string
}

const SRC = resolve(import.meta.dirname, '../../src')

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) sources(path, out)
    else if (name.endsWith('.ts')) out.push(path)
  }
  return out
}

/** Every relative import (value or type) between files under src/, as src-relative paths. */
export function importEdges(src = SRC): Edge[] {
  const edges: Edge[] = []
  for (const file of sources(src)) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue
      const target = resolve(dirname(file), ref.fileName).replace(/\.js$/, '.ts')
      edges.push({from: relative(src, file), to: relative(src, target)})
    }
  }
  return edges
}

/** The top folder of a src-relative path; files directly in src/ (entry points) count as adapters. */
export function folderOf(path: string): string {
  const i = path.indexOf('/')
  return i < 0 ? 'adapters' : path.slice(0, i)
}

/** Imports that break the rule, as `from -> to` lines. */
export function upwardImports(edges: Edge[]): string[] {
  const bad: string[] = []
  for (const {from, to} of edges) {
    const a = folderOf(from)
    const b = folderOf(to)
    if (a === b) continue
    const slice = SLICES[a]
    if (slice) {
      if (!slice.includes(b)) bad.push(`${from} -> ${to}`)
      continue
    }
    if (SLICES[b]) {
      // Slices serve the commands and the edits (argo-app's edit merges with argocd/manifest.ts).
      if ((FLOORS[a] ?? -1) < FLOORS.edits) bad.push(`${from} -> ${to}`)
      continue
    }
    if (FLOORS[a] === undefined || FLOORS[b] === undefined) {
      bad.push(`${from} -> ${to} (folder not in the rule)`)
      continue
    }
    if (FLOORS[b] > FLOORS[a]) bad.push(`${from} -> ${to}`)
  }
  return bad
}

/** Import circles between files (Tarjan's strongly connected components of size > 1, or self-imports). */
export function importCircles(edges: Edge[]): string[][] {
  const next = new Map<string, string[]>()
  for (const {from, to} of edges) {
    if (!next.has(from)) next.set(from, [])
    next.get(from)!.push(to)
  }
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const on = new Set<string>()
  const out: string[][] = []
  const visit = (v: string) => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of next.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = []
      let w: string
      do {
        w = stack.pop()!
        on.delete(w)
        scc.push(w)
      } while (w !== v)
      if (scc.length > 1 || next.get(v)?.includes(v)) out.push(scc.sort())
    }
  }
  for (const v of next.keys()) if (!idx.has(v)) visit(v)
  return out
}
