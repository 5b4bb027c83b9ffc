import {describe, expect, it} from 'vitest'
import {
  FLOORS,
  folderOf,
  importCircles,
  importEdges,
  upwardImports,
  type Edge
} from './import-graph.js'

/**
 * The dependency rule of docs/architecture.md, read from the TypeScript
 * imports (type-only imports count: a type pulled down is the same coupling):
 * adapters → commands → promote → delivery → edits → forge → git →
 * platform/core; argocd and changes reach only git, platform and core.
 */
describe('the dependency rule', () => {
  const edges = importEdges()

  it('reads the imports of every source file', () => {
    expect(edges.length).toBeGreaterThan(200)
    // Every folder under src/ is placed in the rule (a new one must be placed on purpose).
    const folders = new Set(edges.flatMap(e => [folderOf(e.from), folderOf(e.to)]))
    for (const f of folders) expect(Object.keys(FLOORS).concat('argocd', 'changes')).toContain(f)
  })

  it('no import runs from a lower floor up, or out of a slice', () => {
    expect(upwardImports(edges)).toEqual([])
  })

  it('no import circle between files', () => {
    expect(importCircles(edges)).toEqual([])
  })

  it('core imports nothing outside core (it stays pure)', () => {
    expect(edges.filter(e => folderOf(e.from) === 'core' && folderOf(e.to) !== 'core')).toEqual([])
  })
})

describe('the checks themselves', () => {
  const e = (from: string, to: string): Edge => ({from, to})

  it('flag an upward import, a slice reaching up, and a lower floor using a slice', () => {
    expect(
      upwardImports([
        e('git/a.ts', 'delivery/b.ts'),
        e('changes/a.ts', 'commands/types.ts'),
        e('forge/a.ts', 'argocd/b.ts'),
        e('commands/a.ts', 'argocd/b.ts'),
        e('delivery/a.ts', 'git/b.ts')
      ])
    ).toEqual([
      'git/a.ts -> delivery/b.ts',
      'changes/a.ts -> commands/types.ts',
      'forge/a.ts -> argocd/b.ts'
    ])
  })

  it('find a circle of any length, and only circles', () => {
    expect(
      importCircles([e('a.ts', 'b.ts'), e('b.ts', 'c.ts'), e('c.ts', 'a.ts'), e('c.ts', 'd.ts')])
    ).toEqual([['a.ts', 'b.ts', 'c.ts']])
  })
})
