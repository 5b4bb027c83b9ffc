import {describe, expect, it} from 'vitest'
import {
  formatImageEntry,
  parseImageArg,
  splitImage,
  type ImageEntry
} from '../../src/core/kustomize/image-arg.js'

// Expected entries follow kustomize/commands/edit/set/setimage.go (parse) and
// api/internal/image/image.go (Split); see docs/reference kustomize-set-image.md §2.
const accepted: [string, ImageEntry][] = [
  // the seven documented forms
  ['web:1.2.3', {name: 'web', newTag: '1.2.3'}],
  ['web@sha256:abc', {name: 'web', digest: 'sha256:abc'}],
  ['web:1.2@sha256:abc', {name: 'web', newTag: '1.2', digest: 'sha256:abc'}],
  ['web=reg.example.com/web', {name: 'web', newName: 'reg.example.com/web'}],
  ['web=reg.example.com/web:1.2', {name: 'web', newName: 'reg.example.com/web', newTag: '1.2'}],
  [
    'web=reg.example.com/web@sha256:abc',
    {name: 'web', newName: 'reg.example.com/web', digest: 'sha256:abc'}
  ],
  [
    'web=reg.example.com/web:1.2@sha256:abc',
    {name: 'web', newName: 'reg.example.com/web', newTag: '1.2', digest: 'sha256:abc'}
  ],
  // `*` in each place
  ['web=*:2', {name: 'web', newName: '*', newTag: '2'}],
  ['web=reg/web:*', {name: 'web', newName: 'reg/web', newTag: '*'}],
  ['web=reg/web@*', {name: 'web', newName: 'reg/web', digest: '*'}],
  ['web:*@sha256:abc', {name: 'web', newTag: '*', digest: 'sha256:abc'}],
  ['web=*', {name: 'web', newName: '*'}],
  ['web@*', {name: 'web', digest: '*'}],
  ['web=*:*@*', {name: 'web', newName: '*', newTag: '*', digest: '*'}],
  ['web:*', {name: 'web', newTag: '*'}],
  ['*:1', {name: '*', newTag: '1'}],
  // host:port rule
  ['localhost:5000/team/web:1.0', {name: 'localhost:5000/team/web', newTag: '1.0'}],
  ['localhost:5000/team/web@sha256:x', {name: 'localhost:5000/team/web', digest: 'sha256:x'}],
  [
    'web=localhost:5000/team/web:1.0',
    {name: 'web', newName: 'localhost:5000/team/web', newTag: '1.0'}
  ],
  ['web=localhost:5000', {name: 'web', newName: 'localhost', newTag: '5000'}],
  ['localhost:5000', {name: 'localhost', newTag: '5000'}],
  [
    'web=reg.example.com/web:feature/x',
    {name: 'web', newName: 'reg.example.com/web', newTag: 'feature/x'}
  ],
  ['reg/team:x/web:1', {name: 'reg/team', newTag: 'x/web:1'}],
  ['/web:1', {name: '/web', newTag: '1'}],
  // key/value split at the first '='
  ['=web:1', {name: 'web', newTag: '1'}],
  ['web=', {name: 'web'}],
  ['=', {}],
  ['a=b=c', {name: 'a', newName: 'b=c'}],
  ['a=b=c:1', {name: 'a', newName: 'b=c', newTag: '1'}],
  ['my:key=reg/x:1', {name: 'my:key', newName: 'reg/x', newTag: '1'}],
  ['*=reg/x:1', {name: '*', newName: 'reg/x', newTag: '1'}],
  // nothing else is validated
  ['web:', {name: 'web'}],
  ['web@', {name: 'web'}],
  [':1', {newTag: '1'}],
  ['web@latest', {name: 'web', digest: 'latest'}],
  ['WEB:V1+build.7', {name: 'WEB', newTag: 'V1+build.7'}],
  ['web:1:2', {name: 'web', newTag: '1:2'}],
  ['web@sha256:abc:def', {name: 'web', digest: 'sha256:abc:def'}],
  ['web:1@sha256:a@b', {name: 'web', newTag: '1', digest: 'sha256:a@b'}],
  ['web@x:1', {name: 'web', digest: 'x:1'}],
  ['web:1.10', {name: 'web', newTag: '1.10'}],
  ['web:true', {name: 'web', newTag: 'true'}],
  ['gcr.io/p/web:v1', {name: 'gcr.io/p/web', newTag: 'v1'}],
  ['web=reg/web:1 ', {name: 'web', newName: 'reg/web', newTag: '1 '}]
]

const rejected = [
  'web',
  '',
  'localhost:5000/team/web',
  'web:feature/x',
  'reg.example.com/web',
  'reg:5000/web',
  'a/b/c'
]

describe('parseImageArg', () => {
  it.each(accepted)('accepts %j', (arg, entry) => {
    expect(parseImageArg(arg)).toEqual({kind: 'ok', entry})
  })
  it.each(rejected)('rejects %j like kustomize', arg => {
    expect(parseImageArg(arg)).toEqual({kind: 'invalid', arg})
  })
})

describe('splitImage', () => {
  it('ignores separators before the first slash', () => {
    expect(splitImage('host:5000/a/b')).toEqual({name: 'host:5000/a/b', tag: '', digest: ''})
    expect(splitImage('host:5000/a/b:1@d:2')).toEqual({
      name: 'host:5000/a/b',
      tag: '1',
      digest: 'd:2'
    })
  })
  it('digest first when @ comes before :', () => {
    expect(splitImage('a@b:c')).toEqual({name: 'a', tag: '', digest: 'b:c'})
  })
})

describe('formatImageEntry', () => {
  it('prefers newName and appends tag and digest', () => {
    expect(formatImageEntry({name: 'web', newName: 'r/web', newTag: '1', digest: 'sha256:a'})).toBe(
      'r/web:1@sha256:a'
    )
    expect(formatImageEntry({name: 'web'})).toBe('web')
    expect(formatImageEntry({name: 'web', digest: 'sha256:a'})).toBe('web@sha256:a')
  })
})
