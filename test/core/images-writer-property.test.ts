import {describe, expect, it} from 'vitest'
import {parseAllDocuments} from 'yaml'
import {readImageEntries, setImagesInText} from '../../src/core/kustomize/kustomization-file.js'
import {mergeImages, parseImageArgs} from '../../src/core/kustomize/image-merge.js'
import type {ImageEntry} from '../../src/core/kustomize/image-arg.js'

// Seeded generator: random but reproducible kustomizations and arguments.
function rng(seed: number) {
  return (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  }
}

const NAMES = ['web', 'api', 'worker', 'db', 'a.b', 'reg.io/team/app', 'Web', '_x']
const VALUES = ['1.0', 'v2', '1.10', 'sha256:abc', 'reg/web', 'true', '1234', 'feature-x', 'a b']
const FIELDS: (keyof ImageEntry)[] = ['name', 'newName', 'newTag', 'digest', 'tagSuffix']

function quote(r: (n: number) => number, v: string): string {
  const style = r(3)
  if (style === 0 && /^[a-z][a-z0-9./:-]*$/.test(v) && !['true'].includes(v)) return v
  if (style === 1) return `'${v}'`
  return JSON.stringify(v)
}

function genFile(r: (n: number) => number): string {
  const dash = r(3) * 2
  const gap = 1 + r(2) * 2
  const keyCol = dash + 1 + gap
  const eol = r(5) === 0 ? '\r\n' : '\n'
  const lines: string[] = []
  if (r(3) === 0) lines.push('# overlay for prod')
  if (r(4) === 0) lines.push('---')
  lines.push('resources:', `${' '.repeat(dash)}- ../../base # base`)
  if (r(2)) lines.push('')
  lines.push('images:' + (r(3) === 0 ? ' # pinned' : ''))
  const count = r(5)
  for (let i = 0; i < count; i++) {
    if (r(3) === 0) lines.push(`${' '.repeat(dash)}# entry ${i}`)
    if (r(5) === 0) lines.push('')
    const fields = FIELDS.filter(f => f === 'name' || r(3) === 0)
    if (r(4) === 0) fields.reverse()
    const pairs = fields.map(f => {
      const v = f === 'name' ? NAMES[r(NAMES.length)] : VALUES[r(VALUES.length)]
      return `${f}: ${quote(r, v)}`
    })
    if (r(6) === 0) {
      lines.push(`${' '.repeat(dash)}- {${pairs.join(', ')}}`)
      continue
    }
    pairs.forEach((p, j) => {
      const eolComment = r(4) === 0 ? `  # c${i}${j}` : ''
      lines.push(
        (j === 0 ? `${' '.repeat(dash)}-${' '.repeat(gap)}` : ' '.repeat(keyCol)) + p + eolComment
      )
    })
  }
  if (count === 0 && r(2)) lines[lines.length - 1] = 'images: []'
  if (r(2)) lines.push('namespace: prod # ns')
  if (r(3) === 0) lines.push('# trailing note')
  return lines.join(eol) + (r(6) === 0 ? '' : eol)
}

const ARG_FORMS = [
  (n: string, v: string) => `${n}:${v}`,
  (n: string, v: string) => `${n}=*:${v}`,
  (n: string) => `${n}=*:*`,
  (n: string) => `${n}=*:*@*`,
  (n: string, v: string) => `${n}@sha256:${v}`,
  (n: string, v: string) => `${n}=reg/${n}:${v}@sha256:d`,
  (n: string) => `${n}=`,
  (n: string, v: string) => `${n}:*@sha256:${v}`
]

function genArgs(r: (n: number) => number): string[] {
  const names = ['web', 'api', 'worker', 'db', 'new', 'a.b', 'reg.io/team/app']
  return Array.from({length: 1 + r(3)}, () => {
    const tag = ['1.11', '2', 'v3', 'true', '007'][r(5)]
    return ARG_FORMS[r(ARG_FORMS.length)](names[r(names.length)], tag)
  })
}

describe('images writer: random kustomizations against kustomize semantics', () => {
  it('gives kustomize list, stays idempotent, parses, and keeps everything else', () => {
    let checked = 0
    for (let seed = 1; seed <= 600; seed++) {
      const r = rng(seed)
      const text = genFile(r)
      let existing: ImageEntry[]
      try {
        existing = readImageEntries(text)
      } catch {
        continue // e.g. unquoted `true` as a value: kustomize rejects it too
      }
      const args = genArgs(r)
      const parsed = parseImageArgs(args)
      if (parsed.kind !== 'ok') throw new Error(`bad generated args ${args}`)
      const ctx = `seed ${seed}\n${text}\nargs ${args.join(' ')}`
      const out = setImagesInText(text, args).text
      expect(readImageEntries(out), ctx).toEqual(mergeImages(existing, parsed.args))
      expect(
        parseAllDocuments(out).flatMap(d => d.errors),
        ctx
      ).toEqual([])
      expect(setImagesInText(out, args).text, ctx).toBe(out)
      const head = text.slice(0, text.indexOf('images:'))
      expect(out.startsWith(head), ctx).toBe(true)
      for (const tail of ['namespace: prod # ns', '# trailing note']) {
        if (text.includes(tail)) expect(out.includes(tail), ctx).toBe(true)
      }
      if (text.includes('\r\n')) expect(out, ctx).not.toMatch(/(^|[^\r])\n/)
      checked++
    }
    expect(checked).toBeGreaterThan(300)
  })
})
