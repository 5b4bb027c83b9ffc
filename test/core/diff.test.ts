import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {lineDiff, unifiedDiff, unifiedDiffs} from '../../src/core/diff.js'
import {execGit} from '../../src/git/exec.js'

/** Applies a unified diff produced for one file; an independent check of hunk headers. */
function applyPatch(before: string, diff: string): string {
  const src = before === '' ? [] : before.split('\n')
  const srcOpen = before !== '' && !before.endsWith('\n')
  if (!srcOpen && src.length) src.pop()
  const out: string[] = []
  let pos = 0
  let outOpen = srcOpen
  const lines = diff.split('\n')
  lines.pop()
  for (let i = 2; i < lines.length; i++) {
    const h = /^@@ -(\d+),(\d+) \+(\d+),(\d+) @@$/.exec(lines[i])
    if (!h) throw new Error(`bad hunk header ${lines[i]}`)
    const aStart = Number(h[2]) === 0 ? Number(h[1]) : Number(h[1]) - 1
    while (pos < aStart) out.push(src[pos++])
    let a = 0
    let b = 0
    while (a < Number(h[2]) || b < Number(h[4])) {
      const l = lines[++i]
      const next = lines[i + 1]
      const noEol = next === '\\ No newline at end of file'
      if (l[0] === ' ' || l[0] === '-') {
        expect(src[pos]).toBe(l.slice(1))
        pos++
        a++
      }
      if (l[0] === ' ' || l[0] === '+') {
        out.push(l.slice(1))
        b++
        if (noEol) outOpen = true
        else if (pos >= src.length) outOpen = false
      }
      if (noEol) i++
    }
  }
  while (pos < src.length) out.push(src[pos++])
  return out.length ? out.join('\n') + (outOpen ? '' : '\n') : ''
}

describe('unifiedDiff', () => {
  it('is empty for equal texts', () => {
    expect(unifiedDiff('f', 'a\n', 'a\n')).toBe('')
  })
  it('prints a git-style hunk with three lines of context', () => {
    const before = 'a\nb\nc\nd\ne\nf\ng\nh\n'
    const after = 'a\nb\nc\nd\nE\nf\ng\nh\n'
    expect(unifiedDiff('k.yaml', before, after)).toBe(
      '--- a/k.yaml\n+++ b/k.yaml\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n'
    )
  })
  it('marks a missing final newline', () => {
    expect(unifiedDiff('f', 'x', 'x\n')).toBe(
      '--- a/f\n+++ b/f\n@@ -1,1 +1,1 @@\n-x\n\\ No newline at end of file\n+x\n'
    )
  })
  it('keeps CR characters so CRLF edits are visible as such', () => {
    expect(unifiedDiff('f', 'a\r\nb\r\n', 'a\r\nc\r\n')).toContain('-b\r\n+c\r\n')
  })
  it('splits far-apart changes into separate hunks', () => {
    const before = Array.from({length: 30}, (_, i) => `l${i}`).join('\n') + '\n'
    const after = before.replace('l2\n', 'X\n').replace('l25\n', 'Y\n')
    const d = unifiedDiff('f', before, after)
    expect(d.match(/^@@/gm)).toHaveLength(2)
    expect(applyPatch(before, d)).toBe(after)
  })
  it('round-trips random edits through a patch applier', () => {
    let seed = 7
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n)
    for (let round = 0; round < 300; round++) {
      const before = Array.from({length: rnd(25)}, () => `v${rnd(6)}`)
      const after = [...before]
      for (let k = rnd(6); k > 0; k--) {
        const at = rnd(after.length + 1)
        const op = rnd(3)
        if (op === 0) after.splice(at, 0, `n${rnd(6)}`)
        else if (op === 1) after.splice(at, 1)
        else after[at] = `m${rnd(6)}`
      }
      const b = before.join('\n') + (rnd(4) === 0 ? '' : '\n')
      const a = after.join('\n') + (rnd(4) === 0 ? '' : '\n')
      expect(applyPatch(b, unifiedDiff('f', b, a))).toBe(a)
    }
  })
  it('produces patches that git apply accepts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diff-'))
    const before = 'images:\n- name: web\n  newTag: "1"\n'
    const after = 'images:\n- name: api\n  newTag: "2"\n- name: web\n  newTag: "1.10"\n'
    writeFileSync(join(dir, 'k.yaml'), before)
    writeFileSync(join(dir, 'p.diff'), unifiedDiffs([{file: 'k.yaml', before, after}]))
    await execGit(['apply', 'p.diff'], {cwd: dir})
    expect(readFileSync(join(dir, 'k.yaml'), 'utf8')).toBe(after)
  })
})

describe('lineDiff', () => {
  it('is empty for equal texts and counts added/removed lines', () => {
    expect(lineDiff('a\nb\n', 'a\nb\n', {fromLabel: 'a', toLabel: 'b'})).toEqual({
      text: '',
      added: 0,
      removed: 0
    })
    const d = lineDiff('a\nb\nc\n', 'a\nB\nc\nd\n', {fromLabel: 'before', toLabel: 'after'})
    expect(d.text).toBe('--- before\n+++ after\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n')
    expect([d.added, d.removed]).toEqual([2, 1])
  })

  it('splits distant changes into hunks with three lines of context', () => {
    const before = Array.from({length: 40}, (_, i) => `line ${i}`).join('\n') + '\n'
    const after = before.replace('line 3\n', 'line three\n').replace('line 30\n', 'line thirty\n')
    const d = lineDiff(before, after, {fromLabel: 'a', toLabel: 'b'})
    expect(d.text.match(/^@@/gm)).toHaveLength(2)
    expect(d.text).toContain('@@ -1,7 +1,7 @@')
    expect(d.text).toContain('@@ -28,7 +28,7 @@')
  })

  it('keeps two changes 5,000 lines apart as two small hunks', () => {
    const lines = Array.from({length: 6000}, (_, i) => `  image: app-${i}:1.0.${i}`)
    const before = lines.join('\n') + '\n'
    const after = before
      .replace('app-500:1.0.500\n', 'app-500:2.0.0\n')
      .replace('app-5500:1.0.5500\n', 'app-5500:2.0.0\n')
    const d = lineDiff(before, after, {fromLabel: 'a', toLabel: 'b'})
    expect(d.text.match(/^@@.*$/gm)).toEqual(['@@ -498,7 +498,7 @@', '@@ -5498,7 +5498,7 @@'])
    expect([d.added, d.removed]).toEqual([2, 2])
    expect(d.text.split('\n')).toHaveLength(2 + 2 * 9 + 1)
    expect(applyPatch(before, unifiedDiff('f', before, after))).toBe(after)
  })

  it('produces patches that turn before into after (randomised, contexts 0 to 3)', () => {
    let seed = 7
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff
    for (let round = 0; round < 200; round++) {
      const words = ['a', 'b', 'c', 'd', 'e']
      const gen = (n: number) =>
        Array.from({length: n}, () => words[Math.floor(rand() * words.length)])
      const before = gen(Math.floor(rand() * 30))
      const after = before.flatMap(w => (rand() < 0.15 ? [] : rand() < 0.15 ? [w, ...gen(2)] : [w]))
      const b = before.length ? before.join('\n') + '\n' : ''
      const a = after.length ? after.join('\n') + '\n' : ''
      const d = lineDiff(b, a, {fromLabel: 'x', toLabel: 'y', context: round % 4})
      expect(applyPatch(b, d.text)).toBe(a)
    }
  })

  it('treats texts beyond the edit budget as replaced, keeping the common ends', () => {
    const d = lineDiff('a\nb\nc\n', 'x\ny\nz\n', {fromLabel: 'a', toLabel: 'b', maxEdits: 2})
    expect([d.added, d.removed]).toEqual([3, 3])
    const before = 'top\n1\n2\n3\nbottom\n'
    const after = 'top\n1\nX\n3\nY\nbottom\n'
    const over = lineDiff(before, after, {fromLabel: 'a', toLabel: 'b', maxEdits: 2})
    expect(over.text).toContain('@@ -1,5 +1,6 @@\n top\n 1\n-2\n-3\n+X\n+3\n+Y\n bottom\n')
    expect(applyPatch(before, over.text)).toBe(after)
    expect([over.added, over.removed]).toEqual([3, 2])
  })
})
