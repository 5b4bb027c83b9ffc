import picomatch from 'picomatch'

export interface EditPatterns {
  /** Globs of directories the edit looks at (e.g. `apps/*\/overlays/prod`). */
  dirGlobs: string[]
  /** Files (or globs of files) the edit reads or writes directly (`--set` targets). */
  files: string[]
  /**
   * Also everything the matched kustomizations refer to (bases, components,
   * patch files), transitively: what rendering them reads.
   */
  closure?: boolean
}

function normalise(p: string): string {
  return p
    .replace(/\\/g, '/')
    .replace(/^\.\/+/, '')
    .replace(/\/+$/, '')
    .replace(/^\.$/, '')
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/')
  return i < 0 ? '' : path.slice(0, i)
}

/**
 * Picks the directories to check out so the edit sees exactly what it would
 * see in a full checkout, from the remote tree's file list alone (no blob is
 * needed). Every directory matching a glob is kept (the planner decides which
 * of them hold a kustomization, with the same files present), plus the parent
 * of every `files` entry. Nested picks collapse into their ancestor because
 * cone mode checks directories out recursively; `''` means the whole tree.
 */
export function sparseDirs(treeFiles: string[], patterns: EditPatterns): string[] {
  const dirs = new Set<string>()
  for (const file of treeFiles) {
    for (let d = parentOf(file); d && !dirs.has(d); d = parentOf(d)) dirs.add(d)
  }
  const picked = new Set<string>()
  const dirGlobs = patterns.dirGlobs.map(normalise)
  if (dirGlobs.includes('')) return ['']
  if (dirGlobs.length > 0) {
    const matchers = dirGlobs.map(g => picomatch(g, {dot: true}))
    for (const d of dirs) if (matchers.some(m => m(d))) picked.add(d)
  }
  const files = patterns.files.map(normalise).filter(Boolean)
  if (files.length > 0) {
    const fileSet = new Set(treeFiles)
    const globbed = files.filter(f => picomatch.scan(f).isGlob)
    const matchers = globbed.map(g => picomatch(g, {dot: true}))
    for (const f of files) if (!globbed.includes(f)) picked.add(parentOf(f))
    if (matchers.length > 0) {
      for (const f of fileSet) if (matchers.some(m => m(f))) picked.add(parentOf(f))
    }
  }
  if (picked.has('')) picked.delete('') // root files are always in the cone
  return collapse([...picked])
}

/** Drops directories already covered by an ancestor in the list. */
function collapse(dirs: string[]): string[] {
  const set = new Set(dirs)
  const covered = (d: string) => {
    for (let p = parentOf(d); p; p = parentOf(p)) if (set.has(p)) return true
    return false
  }
  return [...set].filter(d => !covered(d)).sort()
}

/**
 * `dirs` plus `more`, collapsed; `undefined` when `dirs` already covers every
 * one of them (nothing new to check out). `''` (whole tree) covers all.
 */
export function widenDirs(dirs: string[], more: string[]): string[] | undefined {
  if (dirs.includes('')) return undefined
  const inside = (d: string) => dirs.some(x => d === x || d.startsWith(`${x}/`))
  const missing = more.map(normalise).filter(d => !inside(d))
  if (missing.length === 0) return undefined
  if (missing.includes('')) return ['']
  return collapse([...dirs, ...missing])
}
