import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {UsageError} from '../../src/core/errors.js'
import {
  readImageEntries,
  setImagesInText,
  writeImageEntries
} from '../../src/core/kustomize/kustomization-file.js'
import {mergeImages, parseImageArgs} from '../../src/core/kustomize/image-merge.js'

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/edit/${name}`, import.meta.url), 'utf8')

/** The list kustomize's algorithm gives, computed independently of the writer. */
function kustomizeList(text: string, args: string[]) {
  const parsed = parseImageArgs(args)
  if (parsed.kind !== 'ok') throw new Error('bad args')
  return mergeImages(readImageEntries(text), parsed.args)
}

function set(text: string, ...args: string[]): string {
  return setImagesInText(text, args).text
}

function usageError(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError)
    return (e as Error).message
  }
  throw new Error('expected a UsageError')
}

describe('readImageEntries (kustomize read rules)', () => {
  it('reads images then imageTags, in file order', () => {
    const text = 'images:\n- name: b\n  newTag: "1"\nimageTags:\n- name: a\n  newTag: x\n'
    expect(readImageEntries(text)).toEqual([
      {name: 'b', newTag: '1'},
      {name: 'a', newTag: 'x'}
    ])
  })
  it('matches keys case-insensitively, like encoding/json', () => {
    expect(
      readImageEntries('Images:\n- NAME: web\n  newtag: "1"\n  NewName: r/web\n  DIGEST: d\n')
    ).toEqual([{name: 'web', newTag: '1', newName: 'r/web', digest: 'd'}])
  })
  it('treats null and empty values as absent', () => {
    expect(
      readImageEntries('images:\n- name: web\n  newTag:\n  digest: ~\n  newName: null\n')
    ).toEqual([{name: 'web'}])
    expect(readImageEntries('images:\n')).toEqual([])
    expect(readImageEntries('')).toEqual([])
    expect(readImageEntries('# just a comment\n')).toEqual([])
  })
  it('accepts quoted, tagged and timestamp-like strings', () => {
    expect(
      readImageEntries(
        "images:\n- name: web\n  newTag: !!str 1.10\n- name: x\n  newTag: 2024-01-15\n- name: w\n  newTag: '7'\n"
      )
    ).toEqual([
      {name: 'web', newTag: '1.10'},
      {name: 'x', newTag: '2024-01-15'},
      {name: 'w', newTag: '7'}
    ])
  })
  it('rejects a name that YAML 1.1 reads as a boolean (y), as kustomize does', () => {
    expect(usageError(() => readImageEntries('images:\n- name: y\n  newTag: "1"\n'))).toContain(
      'cannot unmarshal bool into Go struct field Image.images.name of type string'
    )
  })
  it.each([
    ['1.10', 'number'],
    ['1234', 'number'],
    ['1e3', 'number'],
    ['0x1F', 'number'],
    ['true', 'bool'],
    ['yes', 'bool'],
    ['off', 'bool']
  ])('rejects an unquoted newTag %s like kustomize, with the fix', (value, kind) => {
    const msg = usageError(() =>
      readImageEntries(`images:\n- name: web\n  newTag: ${value}\n`, 'k.yaml')
    )
    expect(msg).toContain(
      `invalid Kustomization: json: cannot unmarshal ${kind} into Go struct field Image.images.newTag of type string`
    )
    expect(msg).toContain('(line 3)')
    expect(msg).toContain(`quote the value (newTag: "${value}")`)
    expect(msg.split('\n')).toHaveLength(1)
  })
  it('rejects unknown keys in an entry', () => {
    expect(usageError(() => readImageEntries('images:\n- name: web\n  tag: "1"\n'))).toContain(
      'invalid Kustomization: json: unknown field "tag"'
    )
  })
  it('rejects images that is not a list, and entries that are not mappings', () => {
    expect(usageError(() => readImageEntries('images: web:1\n'))).toContain(
      'cannot unmarshal string into Go struct field Kustomization.images of type []types.Image'
    )
    expect(usageError(() => readImageEntries('images:\n- web:1\n'))).toContain(
      'cannot unmarshal string into Go struct field Kustomization.images of type types.Image'
    )
    expect(usageError(() => readImageEntries('imageTags:\n  a: b\n'))).toContain(
      'cannot unmarshal object into Go struct field Kustomization.imageTags of type []types.Image'
    )
  })
  it('rejects a kustomization that is not a mapping', () => {
    expect(usageError(() => readImageEntries('- a\n- b\n'))).toContain(
      'cannot unmarshal array into Go value of type types.Kustomization'
    )
  })
  it('reports malformed YAML with its position', () => {
    const msg = usageError(() =>
      readImageEntries('images:\n- name: [web\nresources: x\n', 'k.yaml')
    )
    expect(msg).toMatch(/^k\.yaml: malformed YAML at line \d+, column \d+: .+; fix the YAML syntax/)
  })
  it('refuses two images fields that differ only in case', () => {
    expect(usageError(() => readImageEntries('images: []\nImages: []\n'))).toContain(
      'more than one images field'
    )
  })
  it('reads only the first document, as go-yaml does', () => {
    expect(
      readImageEntries('images:\n- name: a\n  newTag: "1"\n---\nimages:\n- name: b\n')
    ).toEqual([{name: 'a', newTag: '1'}])
  })
  it('resolves aliases when reading', () => {
    expect(readImageEntries('x: &t "9"\nimages:\n- name: a\n  newTag: *t\n')).toEqual([
      {name: 'a', newTag: '9'}
    ])
  })
})

describe('setImagesInText: the images list kustomize would leave', () => {
  const fixtures = [
    'commented.kustomization.yaml',
    'kustomize-written.kustomization.yaml',
    'flow.kustomization.yaml',
    'no-images-flush.kustomization.yaml',
    'no-images-indented.kustomization.yaml',
    'imagetags.kustomization.yaml',
    'crlf-bom.kustomization.yaml',
    'crlf-no-images.kustomization.yaml'
  ]
  const argSets = [
    ['web:1.5.0'],
    ['web=*:1.10'],
    ['web=*:*@sha256:abc'],
    ['web=registry.example.com/shop/web:2@sha256:def', 'api=*:3'],
    ['new-one=reg/new:1234'],
    ['web@*', 'worker=*:true', 'payments=*:*@*'],
    ['aaa:1', 'zzz:2', 'web=*:*'],
    ['web=', 'api:v1'],
    ['api=ghcr.io/acme/api:*@*', 'web:on']
  ]
  for (const name of fixtures) {
    for (const args of argSets) {
      it(`${name} ${args.join(' ')}`, () => {
        const text = fixture(name)
        const out = set(text, ...args)
        // Same entries, same fields, same order as kustomize's algorithm.
        expect(readImageEntries(out)).toEqual(kustomizeList(text, args))
        // Idempotent: the second run changes nothing.
        const again = setImagesInText(out, args)
        expect(again.changed).toBe(false)
        expect(again.text).toBe(out)
        // Line endings and BOM stay the file's own.
        if (text.includes('\r\n')) expect(out).not.toMatch(/(^|[^\r])\n/)
        expect(out.startsWith('\ufeff')).toBe(text.startsWith('\ufeff'))
        // Everything before the images block and after it is untouched.
        const key = /^(images|imageTags):/m.exec(text)
        if (key && !name.startsWith('imagetags')) {
          expect(out.startsWith(text.slice(0, key.index))).toBe(true)
          const after = /\n(?!\s|-|images:)[^\n]*\n?/g
          after.lastIndex = key.index
          const next = after.exec(text)
          if (next) expect(out.endsWith(text.slice(next.index))).toBe(true)
        } else if (!key) {
          expect(out.startsWith(text)).toBe(true)
        }
      })
    }
  }
})

describe('setImagesInText: byte-preserving edits', () => {
  it('changes only the tag scalar, keeping comments and quoting', () => {
    const text = fixture('commented.kustomization.yaml')
    const out = set(text, 'web=*:1.5.0', 'payments=*:*@*', 'worker=*:*')
    // web is first by name already? No: payments < web < worker, so web moves after payments.
    expect(out).toBe(
      text
        .replace('newTag: "1.4.2"     # CI', 'newTag: "1.5.0"     # CI')
        .replace(
          /    # storefront[\s\S]*?# CI\n(    # payments[\s\S]*?a08\n)/,
          (_m, payments: string) =>
            `${payments}    # storefront, built by web.yml\n    - name: web           # matches image: web in base/deploy.yaml\n      newName: registry.example.com/shop/web\n      newTag: "1.5.0"     # CI\n`
        )
    )
  })
  it('keeps an already sorted list in place and edits one line', () => {
    const text = 'images:\n- name: a # first\n  newTag: "1"\n- name: b\n  newTag: v2 # b tag\n'
    expect(set(text, 'b=*:v3')).toBe(
      'images:\n- name: a # first\n  newTag: "1"\n- name: b\n  newTag: v3 # b tag\n'
    )
  })
  it('quotes tags that would read back as non-strings', () => {
    for (const tag of [
      '1.10',
      '1234',
      'true',
      '1e3',
      'yes',
      '1:20',
      '0o17',
      'null',
      '~',
      '2024-01-15',
      '.5'
    ]) {
      const out = set('images:\n- name: a\n  newTag: v1\n', `a=*:${tag}`)
      expect(out).toBe(`images:\n- name: a\n  newTag: ${JSON.stringify(tag)}\n`)
      expect(readImageEntries(out)).toEqual([{name: 'a', newTag: tag}])
    }
    expect(set('images:\n- name: a\n  newTag: v1\n', 'a=*:1.2.3')).toBe(
      'images:\n- name: a\n  newTag: 1.2.3\n'
    )
  })
  it('keeps single quotes when the new value fits them', () => {
    expect(set("images:\n- name: a\n  newTag: 'v1'\n", 'a=*:1.10')).toBe(
      "images:\n- name: a\n  newTag: '1.10'\n"
    )
  })
  it('replaces a matched entry: fields not in the argument disappear', () => {
    const text =
      'images:\n  - name: web\n    newName: reg/web # mirror\n    newTag: "1.0"\n    tagSuffix: -debug\n'
    expect(set(text, 'web:2.0')).toBe('images:\n  - name: web\n    newTag: "2.0"\n')
  })
  it('adds fields after their natural neighbour', () => {
    expect(set('images:\n- name: web\n  newTag: "1"\n', 'web=reg/web:2@sha256:a')).toBe(
      'images:\n- name: web\n  newName: reg/web\n  newTag: "2"\n  digest: sha256:a\n'
    )
  })
  it('rewrites an entry whose first key goes away, keeping comments above it', () => {
    const text = 'images:\n# pinned\n- digest: sha256:old\n  name: web\n'
    expect(set(text, 'web=*:1@*', 'web=reg/web:2')).toBe(
      'images:\n# pinned\n- name: web\n  newName: reg/web\n  newTag: "2"\n'
    )
  })
  it('moves comments with their entry when sorting', () => {
    const text = 'images:\n# zeta\n- name: z\n  newTag: "1"\n# alpha\n- name: a\n  newTag: "1"\n'
    expect(set(text, 'm:1')).toBe(
      'images:\n# alpha\n- name: a\n  newTag: "1"\n- name: m\n  newTag: "1"\n# zeta\n- name: z\n  newTag: "1"\n'
    )
  })
  it('drops later duplicates together with their comments', () => {
    const text =
      'images:\n- name: a\n  newTag: "1"\n# stale copy\n- name: a\n  newTag: "2"\nresources: []\n'
    const r = setImagesInText(text, ['b:1'])
    expect(r.text).toBe(
      'images:\n- name: a\n  newTag: "1"\n- name: b\n  newTag: "1"\nresources: []\n'
    )
    expect(r.changes).toEqual([
      {image: 'b', before: null, after: 'b:1'},
      {image: 'a', before: 'a:2', after: null}
    ])
  })
  it('edits flow entries in place and keeps flow style', () => {
    expect(set('images: [{name: a, newTag: "1"}]  # c\n', 'a:2')).toBe(
      'images: [{name: a, newTag: "2"}]  # c\n'
    )
    expect(set('images:\n- {name: a, newTag: "1"} # c\n- name: b\n', 'a=x:3')).toBe(
      'images:\n- {name: a, newName: x, newTag: "3"} # c\n- name: b\n'
    )
    expect(set('images: [{name: a, newTag: "1"}]\n', 'b=x,y:1')).toBe(
      'images: [{name: a, newTag: "1"}, {name: b, newName: "x,y", newTag: "1"}]\n'
    )
  })
  it('fills an empty images field as a block', () => {
    expect(set('resources:\n  - a.yaml\nimages: []\n', 'a:1')).toBe(
      'resources:\n  - a.yaml\nimages:\n  - name: a\n    newTag: "1"\n'
    )
    expect(set('images:\nresources: [a]\n', 'a:1')).toBe(
      'images:\n- name: a\n  newTag: "1"\nresources: [a]\n'
    )
    expect(set('images: ~ # none yet\n', 'a:1')).toBe(
      'images: # none yet\n- name: a\n  newTag: "1"\n'
    )
  })
  it('appends a new images block in the file indentation style', () => {
    expect(set(fixture('no-images-flush.kustomization.yaml'), 'web=reg/web:1.10')).toBe(
      fixture('no-images-flush.kustomization.yaml') +
        'images:\n- name: web\n  newName: reg/web\n  newTag: "1.10"\n'
    )
    expect(set(fixture('no-images-indented.kustomization.yaml'), 'web:1')).toBe(
      fixture('no-images-indented.kustomization.yaml') +
        'images:\n    -   name: web\n        newTag: "1"\n'
    )
    expect(set('resources: [a]', 'web:1')).toBe(
      'resources: [a]\nimages:\n- name: web\n  newTag: "1"\n'
    )
    expect(set('', 'web:1')).toBe('images:\n- name: web\n  newTag: "1"\n')
    expect(set('{resources: [a]}\n', 'web:1')).toBe(
      '{resources: [a], images: [{name: web, newTag: "1"}]}\n'
    )
  })
  it('keeps CRLF and the BOM', () => {
    const text = fixture('crlf-bom.kustomization.yaml')
    expect(set(text, 'web=*:2.0.1')).toBe(text.replace('"2.0.0"', '"2.0.1"'))
    const added = set(fixture('crlf-no-images.kustomization.yaml'), 'web:1')
    expect(added).toBe(
      'resources:\r\n- ../../base\r\nnamespace: prod\r\nimages:\r\n- name: web\r\n  newTag: "1"\r\n'
    )
  })
  it('keeps document markers and adds a new block inside the first document', () => {
    const text = '---\n# overlay\nresources: [a]\n...\n---\nkind: Other\n'
    expect(set(text, 'web:1')).toBe(
      '---\n# overlay\nresources: [a]\nimages:\n- name: web\n  newTag: "1"\n...\n---\nkind: Other\n'
    )
    const two = 'resources: [a]\n---\nkind: Other\n'
    expect(set(two, 'web:1')).toBe(
      'resources: [a]\nimages:\n- name: web\n  newTag: "1"\n---\nkind: Other\n'
    )
  })
  it('moves imageTags into images like kustomize', () => {
    const text = fixture('imagetags.kustomization.yaml')
    expect(set(text, 'web:1.0')).toBe(
      'resources:\n  - ../../base\n# legacy field, kustomize moves these into images\nimages:\n  - name: api\n    newTag: "0.3"\n  - name: web\n    newTag: "1.0"\nnamePrefix: legacy-\n'
    )
    const both =
      'images:\n- name: b\n  newTag: "1"\nimageTags:\n- name: a\n  newTag: "2"\nnamespace: x\n'
    expect(set(both, 'c:3')).toBe(
      'images:\n- name: a\n  newTag: "2"\n- name: b\n  newTag: "1"\n- name: c\n  newTag: "3"\nnamespace: x\n'
    )
  })
  it('reports nothing to change when the list is already as requested', () => {
    const text = 'images:\n- name: a\n  newTag: "1" # keep\n'
    const r = setImagesInText(text, ['a:1'])
    expect(r).toEqual({kind: 'unchanged', changed: false, text, changes: []})
    // Case variants and explicit empty values are the same entry.
    expect(
      setImagesInText('images:\n- NAME: a\n  newTag: "1"\n  digest: ""\n', ['a:1']).changed
    ).toBe(false)
  })
  it('sorts an unsorted list even when no entry changes (kustomize does)', () => {
    const r = setImagesInText('images:\n- name: b\n- name: a\n  newTag: "1"\n', ['a:1'])
    expect(r.text).toBe('images:\n- name: a\n  newTag: "1"\n- name: b\n')
    expect(r.changes).toEqual([])
    expect(r.changed).toBe(true)
  })
  it('rejects every invalid argument before reading the text', () => {
    const msg = usageError(() => setImagesInText('not: [valid', ['ok:1', 'web']))
    expect(msg).toMatch(
      /^invalid image argument "web": invalid format of image, use one of the following options: /
    )
    expect(msg).toContain('web:<tag>')
    expect(usageError(() => setImagesInText('', ['localhost:5000/team/web']))).toContain(
      'registry port'
    )
    expect(usageError(() => setImagesInText('', ['web:feature/x']))).toContain("cannot contain '/'")
    expect(usageError(() => setImagesInText('', []))).toMatch(/^no image specified/)
  })
  it('refuses to edit through anchors and aliases', () => {
    expect(() => set('images: &i\n- name: a\nother: *i\n', 'a:1')).not.toThrow()
    expect(usageError(() => set('x: &l\n- name: a\nimages: *l\n', 'a:1'))).toContain('alias')
  })
  it('re-renders an entry that uses an alias for a value', () => {
    const out = set('x: &t "9"\nimages:\n- name: a\n  newTag: *t\n', 'a=b:1')
    expect(readImageEntries(out)).toEqual([{name: 'a', newName: 'b', newTag: '1'}])
  })
  it('writes an exact list with writeImageEntries (for promote)', () => {
    const text = 'images:\n- name: a # keep me\n  newTag: "1"\n'
    const r = writeImageEntries(text, [
      {name: 'a', newTag: '2'},
      {name: 'b', digest: 'sha256:x'}
    ])
    expect(r.text).toBe(
      'images:\n- name: a # keep me\n  newTag: "2"\n- name: b\n  digest: sha256:x\n'
    )
  })
})

describe('files kustomize itself refuses', () => {
  it('a null document is "empty", as kustomize says, with the fix', () => {
    expect(() => readImageEntries('null\n', 'o/kustomization.yaml')).toThrow(
      'o/kustomization.yaml: kustomization.yaml is empty (line 1); write its fields (resources:, images:, ...) in place of the null document'
    )
  })

  it("a NUL byte or another control character is refused with kustomize's message", () => {
    expect(() =>
      readImageEntries('images:\n- name: web\n  newTag: "a\u0000b"\n', 'k.yaml')
    ).toThrow(
      'k.yaml: invalid Kustomization: yaml: control characters are not allowed (line 3); remove the NUL byte from the file'
    )
    expect(() => readImageEntries('resources: []\n# \u001b[31m\n', 'k.yaml')).toThrow(
      /control characters are not allowed \(line 2\); remove the control character U\+001B/
    )
  })
})
