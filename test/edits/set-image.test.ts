import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeEach, describe, expect, it} from 'vitest'
import {UsageError} from '../../src/core/errors.js'
import {
  planEdits,
  requestedPatterns,
  writeEdits,
  type EditRequest
} from '../../src/edits/set-image.js'

let root: string

const K = (tag: string) =>
  `resources:\n  - ../../base\nimages:\n  - name: web # CI\n    newTag: "${tag}"\n`

function put(rel: string, text: string): void {
  mkdirSync(join(root, rel, '..'), {recursive: true})
  writeFileSync(join(root, rel), text)
}
const read = (rel: string) => readFileSync(join(root, rel), 'utf8')

function req(r: Partial<EditRequest>): EditRequest {
  return {paths: [], images: [], sets: [], createKeys: false, ...r}
}

async function usageError(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err
  )
  expect(e).toBeInstanceOf(UsageError)
  return (e as Error).message
}

beforeEach(() => {
  root = join(realpathSync(mkdtempSync(join(tmpdir(), 'apply-'))), 'repo')
  for (const app of ['cart', 'shop'])
    put(`apps/${app}/overlays/production/kustomization.yaml`, K('1.0'))
  put('charts/shop/values.yaml', 'image:\n  tag: "1.0" # CI\nreplicaCount: 2\n')
})

describe('planEdits', () => {
  it('computes every change and writes nothing', async () => {
    const before = read('apps/shop/overlays/production/kustomization.yaml')
    const out = await planEdits(
      root,
      req({
        paths: ['apps/*/overlays/production'],
        images: ['web:1.1'],
        sets: ['charts/shop/values.yaml:image.tag=1.1']
      })
    )
    expect(out.changed).toBe(true)
    expect(out.edits).toEqual([
      {
        file: 'apps/cart/overlays/production/kustomization.yaml',
        image: 'web',
        before: 'web:1.0',
        after: 'web:1.1'
      },
      {
        file: 'apps/shop/overlays/production/kustomization.yaml',
        image: 'web',
        before: 'web:1.0',
        after: 'web:1.1'
      },
      {file: 'charts/shop/values.yaml', key: 'image.tag', before: '1.0', after: '1.1'}
    ])
    expect(out.files.map(f => f.file)).toEqual([
      'apps/cart/overlays/production/kustomization.yaml',
      'apps/shop/overlays/production/kustomization.yaml',
      'charts/shop/values.yaml'
    ])
    expect(out.files[0].after).toBe(K('1.1'))
    expect(out.diff).toContain('--- a/charts/shop/values.yaml\n+++ b/charts/shop/values.yaml\n')
    expect(out.diff).toContain('-  tag: "1.0" # CI\n+  tag: "1.1" # CI\n')
    expect(read('apps/shop/overlays/production/kustomization.yaml')).toBe(before)
  })
  it('reports nothing to change as success', async () => {
    const out = await planEdits(
      root,
      req({paths: ['apps/shop/overlays/production'], images: ['web:1.0']})
    )
    expect(out).toEqual({changed: false, edits: [], files: [], diff: ''})
  })
  it('defaults --path to the root, like kustomize in the current directory', async () => {
    put('kustomization.yaml', 'resources: []\n')
    const out = await planEdits(root, req({images: ['web:2']}))
    expect(out.files).toEqual([
      {
        file: 'kustomization.yaml',
        before: 'resources: []\n',
        after: 'resources: []\nimages:\n- name: web\n  newTag: "2"\n'
      }
    ])
  })
  it('chains --image and --set on the same file', async () => {
    const out = await planEdits(
      root,
      req({
        paths: ['apps/shop/overlays/production'],
        images: ['web:2'],
        sets: ['apps/shop/overlays/production/kustomization.yaml:resources[0]=../../base2']
      })
    )
    expect(out.files).toHaveLength(1)
    expect(out.files[0].after).toBe(K('2').replace('../../base', '../../base2'))
  })
  it('rejects an invalid image before reading anything', async () => {
    const msg = await usageError(
      planEdits(join(root, 'does-not-exist'), req({paths: ['x'], images: ['web:1', 'web']}))
    )
    expect(msg).toMatch(
      /^invalid image argument "web": invalid format of image, use one of the following options:/
    )
  })
  it('is all-or-nothing: one bad overlay stops the whole run', async () => {
    put('apps/bad/overlays/production/kustomization.yaml', 'images:\n- name: web\n  newTag: 1.10\n')
    const msg = await usageError(
      planEdits(root, req({paths: ['apps/*/overlays/production'], images: ['web:2']}))
    )
    expect(msg).toBe(
      'apps/bad/overlays/production/kustomization.yaml: invalid Kustomization: json: cannot unmarshal number into Go struct field Image.images.newTag of type string (line 3); quote the value (newTag: "1.10") so it reads as a string'
    )
    expect(read('apps/shop/overlays/production/kustomization.yaml')).toBe(K('1.0'))
  })
  it('names malformed YAML, missing keys and missing files', async () => {
    put('apps/broken/overlays/production/kustomization.yaml', 'images: [\n')
    expect(
      await usageError(
        planEdits(root, req({paths: ['apps/broken/overlays/production'], images: ['web:2']}))
      )
    ).toMatch(
      /^apps\/broken\/overlays\/production\/kustomization\.yaml: malformed YAML at line \d+/
    )
    expect(
      await usageError(planEdits(root, req({sets: ['charts/shop/values.yaml:image.digest=x']})))
    ).toContain('pass --create-keys')
    expect(await usageError(planEdits(root, req({sets: ['charts/nope.yaml:a=1']})))).toContain(
      'does not exist'
    )
    expect(await usageError(planEdits(root, req({sets: ['charts:a=1']})))).toContain(
      'is not a file'
    )
  })
  it('creates keys only with createKeys', async () => {
    const out = await planEdits(
      root,
      req({sets: ['charts/shop/values.yaml:image.digest=sha256:x'], createKeys: true})
    )
    expect(out.edits).toEqual([
      {file: 'charts/shop/values.yaml', key: 'image.digest', before: null, after: 'sha256:x'}
    ])
  })
  it('refuses paths that leave the root', async () => {
    expect(await usageError(planEdits(root, req({sets: ['../x.yaml:a=1']})))).toContain("uses '..'")
    expect(await usageError(planEdits(root, req({sets: ['/etc/passwd:a=1']})))).toContain(
      'absolute'
    )
    const outside = join(root, '..', 'outside.yaml')
    writeFileSync(outside, 'a: 1\n')
    symlinkSync(outside, join(root, 'link.yaml'))
    expect(await usageError(planEdits(root, req({sets: ['link.yaml:a=2']})))).toContain(
      'leads outside the root'
    )
    expect(readFileSync(outside, 'utf8')).toBe('a: 1\n')
  })
  it('needs something to do', async () => {
    expect(await usageError(planEdits(root, req({})))).toMatch(/^nothing to do/)
    expect(await usageError(planEdits(root, req({paths: ['apps']})))).toMatch(
      /^--path needs at least one --image/
    )
  })
  it('refuses files that are not UTF-8 rather than corrupting them', async () => {
    writeFileSync(join(root, 'latin1.yaml'), Buffer.from([0x61, 0x3a, 0x20, 0xe9, 0x0a]))
    expect(await usageError(planEdits(root, req({sets: ['latin1.yaml:a=b']})))).toContain(
      'not valid UTF-8'
    )
  })
})

describe('writeEdits', () => {
  it('writes every changed file, keeps modes, and writes through in-root symlinks', async () => {
    chmodSync(join(root, 'charts/shop/values.yaml'), 0o640)
    put('shared/kustomization.yaml', K('1.0'))
    mkdirSync(join(root, 'apps/linked'))
    symlinkSync('../../shared/kustomization.yaml', join(root, 'apps/linked/kustomization.yaml'))
    const out = await planEdits(
      root,
      req({
        paths: ['apps/linked'],
        images: ['web:3'],
        sets: ['charts/shop/values.yaml:replicaCount=3']
      })
    )
    await writeEdits(root, out)
    expect(read('shared/kustomization.yaml')).toBe(K('3'))
    expect(lstatSync(join(root, 'apps/linked/kustomization.yaml')).isSymbolicLink()).toBe(true)
    expect(readlinkSync(join(root, 'apps/linked/kustomization.yaml'))).toBe(
      '../../shared/kustomization.yaml'
    )
    expect(read('charts/shop/values.yaml')).toBe('image:\n  tag: "1.0" # CI\nreplicaCount: 3\n')
    expect(statSync(join(root, 'charts/shop/values.yaml')).mode & 0o777).toBe(0o640)
    // Second run: nothing left to do.
    expect((await planEdits(root, req({paths: ['apps/linked'], images: ['web:3']}))).changed).toBe(
      false
    )
  })
  it('edits a kustomization reached through two --path values once', async () => {
    put('shared/kustomization.yaml', K('1.0'))
    mkdirSync(join(root, 'apps/linked'))
    symlinkSync('../../shared/kustomization.yaml', join(root, 'apps/linked/kustomization.yaml'))
    const out = await planEdits(root, req({paths: ['shared', 'apps/linked'], images: ['web:3']}))
    expect(out.files).toEqual([
      {file: 'apps/linked/kustomization.yaml', before: K('1.0'), after: K('3')}
    ])
    expect(out.edits.map(e => e.file)).toEqual(['apps/linked/kustomization.yaml'])
  })
  it('refuses to write outside the root even for a hand-made outcome', async () => {
    const e = await writeEdits(root, {
      changed: true,
      edits: [],
      diff: '',
      files: [{file: '../evil.yaml', before: '', after: 'x'}]
    }).catch(err => err)
    expect(e).toBeInstanceOf(UsageError)
  })
})

describe('requestedPatterns', () => {
  it('returns the validated patterns for a sparse checkout', () => {
    expect(
      requestedPatterns(
        req({
          paths: ['./apps/*/overlays/production/'],
          images: ['web:1'],
          sets: ['charts/shop/values.yaml:a=1', 'charts/shop/values.yaml:b=2']
        })
      )
    ).toEqual({
      dirGlobs: ['apps/*/overlays/production'],
      files: ['charts/shop/values.yaml'],
      // A glob: whether an overlay runs an image is read in its bases, so they are checked out too.
      closure: true
    })
    expect(requestedPatterns(req({paths: ['apps/web/overlays/dev'], images: ['web:1']}))).toEqual({
      dirGlobs: ['apps/web/overlays/dev'],
      files: []
    })
    expect(() => requestedPatterns(req({paths: ['../x'], images: ['web:1']}))).toThrow(UsageError)
    expect(() => requestedPatterns(req({images: ['web']}))).toThrow(UsageError)
  })
})
