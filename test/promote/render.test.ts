import {execFileSync} from 'node:child_process'
import {cpSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {unifiedDiff} from '../../src/promote/line-diff.js'
import {kubectlRenderer, maskSecrets} from '../../src/promote/render.js'

/** Applies a unified diff to `before`; the test's independent check that hunks are right. */
function applyPatch(before: string, patch: string): string {
  const src = before === '' ? [] : before.replace(/\n$/, '').split('\n')
  const out: string[] = []
  let pos = 0
  const lines = patch.split('\n').slice(2)
  for (let i = 0; i < lines.length; i++) {
    const m = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@$/.exec(lines[i])
    if (!m) continue
    let start = Number(m[1]) - 1
    if (m[2] === '0') start += 1
    while (pos < start) out.push(src[pos++])
    for (i++; i < lines.length && !lines[i].startsWith('@@') && lines[i] !== ''; i++) {
      const [kind, text] = [lines[i][0], lines[i].slice(1)]
      if (kind === ' ') {
        expect(src[pos]).toBe(text)
        out.push(src[pos++])
      } else if (kind === '-') {
        expect(src[pos]).toBe(text)
        pos++
      } else out.push(text)
    }
    i--
  }
  while (pos < src.length) out.push(src[pos++])
  return out.length ? out.join('\n') + '\n' : ''
}

describe('unified diff', () => {
  it('is empty for equal texts and counts added/removed lines', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\n', {fromLabel: 'a', toLabel: 'b'})).toEqual({
      text: '',
      added: 0,
      removed: 0
    })
    const d = unifiedDiff('a\nb\nc\n', 'a\nB\nc\nd\n', {fromLabel: 'before', toLabel: 'after'})
    expect(d.text).toBe('--- before\n+++ after\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n')
    expect([d.added, d.removed]).toEqual([2, 1])
  })

  it('splits distant changes into hunks with three lines of context', () => {
    const before = Array.from({length: 40}, (_, i) => `line ${i}`).join('\n') + '\n'
    const after = before.replace('line 3\n', 'line three\n').replace('line 30\n', 'line thirty\n')
    const d = unifiedDiff(before, after, {fromLabel: 'a', toLabel: 'b'})
    expect(d.text.match(/^@@/gm)).toHaveLength(2)
    expect(d.text).toContain('@@ -1,7 +1,7 @@')
    expect(d.text).toContain('@@ -28,7 +28,7 @@')
  })

  it('produces patches that turn before into after (randomised)', () => {
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
      const d = unifiedDiff(b, a, {fromLabel: 'x', toLabel: 'y', context: round % 4})
      expect(applyPatch(b, d.text)).toBe(a)
    }
  })

  it('treats texts beyond the edit budget as replaced', () => {
    const d = unifiedDiff('a\nb\nc\n', 'x\ny\nz\n', {fromLabel: 'a', toLabel: 'b', maxEdits: 2})
    expect([d.added, d.removed]).toEqual([3, 3])
  })
})

describe('secret masking', () => {
  it('replaces Secret values with a hash and leaves other documents byte for byte', () => {
    const rendered =
      'apiVersion: v1\ndata:\n  password: c2VjcmV0\nkind: Secret\nmetadata:\n  name: db\n---\napiVersion: v1\ndata:\n  password: not-a-secret # keep\nkind: ConfigMap\nmetadata:\n  name: cm\n'
    const masked = maskSecrets(rendered)
    expect(masked).not.toContain('c2VjcmV0')
    expect(masked).toMatch(/password: redacted sha256:[0-9a-f]{12} \(8 chars\)\n/)
    expect(masked).toContain(
      '---\napiVersion: v1\ndata:\n  password: not-a-secret # keep\nkind: ConfigMap'
    )
    expect(maskSecrets(rendered.replace('c2VjcmV0', 'b3RoZXI='))).not.toBe(masked)
  })
})

const hasKubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
})()

describe.skipIf(!hasKubectl)('kubectl kustomize renderer (skipped: kubectl not on PATH)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gitops-render-'))
  cpSync(new URL('../../examples/config-repo', import.meta.url), dir, {recursive: true})
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('renders an overlay with its base, and reports a broken one with the cause', async () => {
    const r = kubectlRenderer()
    const ok = await r.render(join(dir, 'apps/web/overlays/production'))
    expect(ok.kind).toBe('rendered')
    if (ok.kind === 'rendered')
      expect(ok.yaml).toContain('image: registry.acme.example/mirror/web:1.4.1')
    writeFileSync(
      join(dir, 'apps/web/overlays/production/kustomization.yaml'),
      'resources:\n  - ../../nowhere\n'
    )
    const bad = await r.render(join(dir, 'apps/web/overlays/production'))
    expect(bad.kind).toBe('failed')
    if (bad.kind === 'failed') expect(bad.message).toMatch(/nowhere/)
  })
})

describe('renderer without kubectl', () => {
  it('says how to get the diff instead of failing', async () => {
    const r = kubectlRenderer({kubectl: '/nonexistent/kubectl'})
    const res = await r.render(tmpdir())
    expect(res).toEqual({
      kind: 'unavailable',
      message: expect.stringMatching(/kubectl was not found.*install kubectl/)
    })
  })
})
