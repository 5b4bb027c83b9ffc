import {describe, expect, it} from 'vitest'
import {compareNames, mergeImages, parseImageArgs} from '../../src/core/kustomize/image-merge.js'
import type {ImageEntry} from '../../src/core/kustomize/image-arg.js'

function merge(existing: ImageEntry[], args: string[]): ImageEntry[] {
  const parsed = parseImageArgs(args)
  if (parsed.kind !== 'ok') throw new Error(parsed.kind)
  return mergeImages(existing, parsed.args)
}

describe('parseImageArgs', () => {
  it('needs at least one argument', () => {
    expect(parseImageArgs([])).toEqual({kind: 'no-args'})
  })
  it('reports the first invalid argument and aborts', () => {
    expect(parseImageArgs(['a:1', 'web', 'b'])).toEqual({kind: 'invalid', arg: 'web'})
  })
  it('a later argument for the same name replaces the earlier one', () => {
    expect(merge([], ['web:1', 'web=reg/web@sha256:x'])).toEqual([
      {name: 'web', newName: 'reg/web', digest: 'sha256:x'}
    ])
  })
})

describe('mergeImages (kustomize RunSetImage)', () => {
  it('replaces a matched entry instead of merging it', () => {
    expect(merge([{name: 'web', newName: 'reg/web', newTag: '1.0'}], ['web:2.0'])).toEqual([
      {name: 'web', newTag: '2.0'}
    ])
  })
  it('* keeps exactly the fields it stands for', () => {
    const old = {name: 'web', newName: 'reg/web', newTag: '1.0', digest: 'sha256:old'}
    expect(merge([old], ['web=*:2.0'])).toEqual([{name: 'web', newName: 'reg/web', newTag: '2.0'}])
    expect(merge([old], ['web=*:*'])).toEqual([{name: 'web', newName: 'reg/web', newTag: '1.0'}])
    expect(merge([old], ['web=*@sha256:new'])).toEqual([
      {name: 'web', newName: 'reg/web', digest: 'sha256:new'}
    ])
    expect(merge([old], ['web=reg/web:2'])).toEqual([
      {name: 'web', newName: 'reg/web', newTag: '2'}
    ])
    expect(merge([old], ['web=*:*@*'])).toEqual([old])
    expect(merge([old], ['web:*@*'])).toEqual([{name: 'web', newTag: '1.0', digest: 'sha256:old'}])
    expect(merge([old], ['web@*'])).toEqual([{name: 'web', digest: 'sha256:old'}])
  })
  it('* with nothing to keep leaves the field out', () => {
    expect(merge([], ['web=*:*@*'])).toEqual([{name: 'web'}])
    expect(merge([{name: 'web', newTag: '1'}], ['web=*@*'])).toEqual([{name: 'web'}])
  })
  it('loses tagSuffix on a matched entry and keeps it on others', () => {
    const existing = [
      {name: 'a', newTag: '1', tagSuffix: '-debug'},
      {name: 'b', tagSuffix: '-x'}
    ]
    expect(merge(existing, ['a=*:*'])).toEqual([
      {name: 'a', newTag: '1'},
      {name: 'b', tagSuffix: '-x'}
    ])
  })
  it('empties a literal * left in the file, dropping its tagSuffix like kustomize', () => {
    expect(
      merge(
        [
          {name: 'a', newTag: '*', tagSuffix: '-s'},
          {name: 'b', newTag: '1'}
        ],
        ['c:1']
      )
    ).toEqual([{name: 'a'}, {name: 'b', newTag: '1'}, {name: 'c', newTag: '1'}])
  })
  it('keeps the first of duplicate names and takes * from it', () => {
    const dups = [
      {name: 'web', newTag: 'first'},
      {name: 'web', newTag: 'second', digest: 'sha256:x'}
    ]
    expect(merge(dups, ['other:1'])).toEqual([
      {name: 'other', newTag: '1'},
      {name: 'web', newTag: 'first'}
    ])
    expect(merge(dups, ['web=reg/web:*'])).toEqual([
      {name: 'web', newName: 'reg/web', newTag: 'first'}
    ])
  })
  it('sorts every entry by name bytes, moving untouched ones too', () => {
    const names = ['b', 'B', '_x', 'a-b', 'a.b', 'a/b', 'a', '9', 'a:b', 'a1']
    const out = merge(
      names.map(name => ({name, newTag: '1'})),
      ['zz:1']
    )
    expect(out.map(e => e.name)).toEqual([
      '9',
      'B',
      '_x',
      'a',
      'a-b',
      'a.b',
      'a/b',
      'a1',
      'a:b',
      'b',
      'zz'
    ])
  })
  it('sorts the empty name first', () => {
    expect(
      merge([{name: 'a', newTag: '1'}, {newTag: '2'}], ['b:1']).map(e => e.name ?? '')
    ).toEqual(['', 'a', 'b'])
  })
  it('adds new names and keeps unrelated entries as they are', () => {
    expect(merge([{name: 'db', newName: 'postgres', newTag: '16'}], ['web=reg/web:2'])).toEqual([
      {name: 'db', newName: 'postgres', newTag: '16'},
      {name: 'web', newName: 'reg/web', newTag: '2'}
    ])
  })
  it('works on imageTags entries appended after images', () => {
    expect(
      merge(
        [
          {name: 'web', newTag: 'from-images'},
          {name: 'web', newTag: 'from-imageTags'},
          {name: 'api', newTag: '3'}
        ],
        ['x:1']
      )
    ).toEqual([
      {name: 'api', newTag: '3'},
      {name: 'web', newTag: 'from-images'},
      {name: 'x', newTag: '1'}
    ])
  })
})

describe('compareNames', () => {
  it('compares UTF-8 bytes, not UTF-16 code units', () => {
    // U+FFFD is EF BF BD in UTF-8, an emoji starts with F0: bytes put U+FFFD first, UTF-16 the emoji.
    expect(compareNames('\ufffd', '\u{1f600}')).toBeLessThan(0)
    expect('\ufffd' < '\u{1f600}').toBe(false)
  })
})
