import {execFileSync} from 'node:child_process'
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  statSync,
  writeFileSync
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeEach, describe, expect, it} from 'vitest'
import {setImageCommand} from '../../src/commands/set-image.js'
import {planEdits} from '../../src/edits/set-image.js'
import {deployment} from '../helpers/git-fixtures.js'
import {cli as rawCli, type CliRun} from '../helpers/cli.js'
import {missingTool} from '../helpers/tools.js'

let root: string

function cli(...args: string[]): Promise<CliRun> {
  return rawCli(['set-image', '-C', root, ...args])
}

function put(rel: string, text: string): void {
  mkdirSync(join(root, rel, '..'), {recursive: true})
  writeFileSync(join(root, rel), text)
}
const read = (rel: string) => readFileSync(join(root, rel), 'utf8')
const fixture = (name: string) => new URL(`../fixtures/edit/${name}`, import.meta.url)

/** Every file under the root with its bytes, to prove a failed run wrote nothing. */
function snapshot(dir = root, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(dir)) {
    const abs = join(dir, name)
    if (statSync(abs).isDirectory()) Object.assign(out, snapshot(abs, `${prefix}${name}/`))
    else out[`${prefix}${name}`] = readFileSync(abs, 'latin1')
  }
  return out
}

beforeEach(() => {
  root = join(realpathSync(mkdtempSync(join(tmpdir(), 'set-image-'))), 'config')
  put(
    'apps/shop/base/kustomization.yaml',
    'resources:\n  - web.yaml\n  - payments.yaml\n  - worker.yaml\n'
  )
  put('apps/shop/base/web.yaml', deployment('web', 'web:0.1'))
  put('apps/shop/base/payments.yaml', deployment('payments', 'payments:0.1'))
  put('apps/shop/base/worker.yaml', deployment('worker', 'worker:0.1'))
  for (const app of ['shop', 'cart']) {
    mkdirSync(join(root, `apps/${app}/overlays/production`), {recursive: true})
    mkdirSync(join(root, `apps/${app}/overlays/staging`), {recursive: true})
  }
  copyFileSync(
    fixture('commented.kustomization.yaml'),
    join(root, 'apps/shop/overlays/production/kustomization.yaml')
  )
  put(
    'apps/shop/overlays/production/ingress.yaml',
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ingress\n'
  )
  put(
    'apps/shop/overlays/production/replicas.yaml',
    'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n'
  )
  copyFileSync(
    fixture('crlf-bom.kustomization.yaml'),
    join(root, 'apps/shop/overlays/staging/kustomization.yaml')
  )
  put('apps/cart/overlays/production/kustomization.yaml', 'resources:\n- ../../../shop/base\n')
  put('apps/cart/overlays/staging/kustomization.yaml', 'resources:\n- ../../../shop/base\n')
  copyFileSync(fixture('values.yaml'), join(root, 'values.yaml'))
})

describe('set-image on a local tree', () => {
  it('edits a glob of overlays and a values file in one run', async () => {
    const r = await cli(
      '--path',
      'apps/*/overlays/production',
      '--image',
      'web=*:1.5.0',
      '--set',
      'values.yaml:image.tag=1.5.0'
    )
    expect(r).toMatchObject({code: 0, stderr: ''})
    expect(r.stdout).toBe(
      [
        'apps/cart/overlays/production/kustomization.yaml: web (none) -> web:1.5.0',
        'apps/shop/overlays/production/kustomization.yaml: web registry.example.com/shop/web:1.4.2 -> registry.example.com/shop/web:1.5.0',
        'values.yaml: image.tag 1.4.2 -> 1.5.0',
        '3 files changed',
        ''
      ].join('\n')
    )
    expect(read('apps/cart/overlays/production/kustomization.yaml')).toBe(
      'resources:\n- ../../../shop/base\nimages:\n- name: web\n  newTag: 1.5.0\n'
    )
    expect(read('values.yaml')).toBe(
      readFileSync(fixture('values.yaml'), 'utf8').replace('tag: "1.4.2"', 'tag: "1.5.0"')
    )
  })

  it('prints one JSON object with --json', async () => {
    const r = await cli(
      '--path',
      'apps/shop/overlays/production',
      '--image',
      'worker:1.5.0',
      '--json'
    )
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({
      changed: true,
      dryRun: false,
      files: ['apps/shop/overlays/production/kustomization.yaml'],
      edits: [
        {
          file: 'apps/shop/overlays/production/kustomization.yaml',
          image: 'worker',
          before: 'worker:1.4.2',
          after: 'worker:1.5.0'
        }
      ],
      checks: [
        missingTool('kubectl')
          ? {
              check: 'render',
              status: 'skipped',
              text: expect.stringMatching(/^render check skipped: kubectl was not found/),
              rendered: []
            }
          : {
              check: 'render',
              status: 'passed',
              text: 'render check: 1 kustomization rendered with kubectl kustomize',
              rendered: ['apps/shop/overlays/production'],
              tool: 'kubectl kustomize'
            }
      ]
    })
  })

  it('--dry-run prints a unified diff and writes nothing', async () => {
    const before = snapshot()
    const r = await cli(
      '--path',
      'apps/shop/overlays/staging',
      '--image',
      'web=*:2.0.1',
      '--dry-run'
    )
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      '--- a/apps/shop/overlays/staging/kustomization.yaml\n+++ b/apps/shop/overlays/staging/kustomization.yaml\n' +
        '@@ -8,4 +8,4 @@\n     newTag: "7"\r\n \r\n   - name: web # CI\r\n-    newTag: "2.0.0"\r\n+    newTag: "2.0.1"\r\n' +
        'apps/shop/overlays/staging/kustomization.yaml: web web:2.0.0 -> web:2.0.1\ndry run: 1 file would change, nothing written\n'
    )
    expect(snapshot()).toEqual(before)
    const json = JSON.parse(
      (await cli('--path', 'apps/shop/overlays/staging', '--image', 'web:2', '--dry-run', '--json'))
        .stdout
    )
    expect(json.dryRun).toBe(true)
    expect(json.diff).toContain('+    newTag: "2"\r\n')
    expect(snapshot()).toEqual(before)
  })

  it('is idempotent: N runs, one diff', async () => {
    const args = [
      '--path',
      'apps/*/overlays/*',
      '--image',
      'web=reg/web:1.10@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      '--image',
      'api:3',
      '--set',
      'values.yaml:image.tag=1.10',
      // No container runs `api`: without this, dead-entry protection refuses it (a typo).
      '--add-missing'
    ]
    const first = JSON.parse((await cli(...args, '--json')).stdout)
    expect(first.changed).toBe(true)
    const after = snapshot()
    for (let i = 0; i < 3; i++) {
      const again = await cli(...args, '--json')
      expect(again.code).toBe(0)
      expect(JSON.parse(again.stdout)).toMatchObject({changed: false, edits: []})
      expect(snapshot()).toEqual(after)
    }
    expect((await cli(...args)).stdout).toBe('nothing to change\n')
    // The CRLF + BOM overlay kept its line endings and BOM.
    const crlf = read('apps/shop/overlays/staging/kustomization.yaml')
    expect(crlf.startsWith('\ufeff# Windows-edited overlay\r\n')).toBe(true)
    expect(crlf).not.toMatch(/(^|[^\r])\n/)
  })

  describe('bad input: exit 2, one error line naming cause and fix, nothing written', () => {
    const cases: [string, string[], RegExp][] = [
      [
        'unknown flag',
        ['--imgae', 'web:1'],
        /^error: Unknown option '--imgae'.*run 'gitops-deploy set-image --help'/
      ],
      [
        'invalid image argument',
        ['--path', 'apps/cart/overlays/production', '--image', 'web:1', '--image', 'web'],
        /^error: invalid image argument "web": invalid format of image, use one of the following options: .*web:<tag>/
      ],
      [
        'registry port without tag',
        ['--path', 'apps/cart/overlays/production', '--image', 'localhost:5000/web'],
        /registry port, not a tag/
      ],
      [
        'missing kustomization',
        ['--path', 'apps/shop', '--image', 'web:1'],
        /^error: apps\/shop: Missing kustomization file 'kustomization\.yaml'\. Create one there or fix --path\n$/
      ],
      [
        'glob matching nothing',
        ['--path', 'apps/*/overlays/prod', '--image', 'web:1'],
        /^error: --path "apps\/\*\/overlays\/prod" matches no directory/
      ],
      [
        'path escape',
        ['--path', '../outside', '--image', 'web:1'],
        /^error: --path "\.\.\/outside" uses '\.\.' and could leave the root/
      ],
      [
        'absolute path',
        ['--set', '/etc/hosts:a=1'],
        /^error: --set file "\/etc\/hosts" is absolute/
      ],
      [
        'missing key',
        ['--set', 'values.yaml:image.digest=sha256:x'],
        /^error: values\.yaml: key image\.digest not found .*pass --create-keys/
      ],
      [
        'bad --set syntax',
        ['--set', 'values.yaml'],
        /^error: invalid --set "values\.yaml": .*use <file>:<key\.path>=<value>/
      ],
      ['nothing to do', [], /^error: nothing to do/]
    ]
    it.each(cases)('%s', async (_name, args, message) => {
      const before = snapshot()
      const r = await cli(...args)
      expect(r.code).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toMatch(message)
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
      expect(snapshot()).toEqual(before)
    })
    it('malformed YAML in one overlay of a glob', async () => {
      put(
        'apps/cart/overlays/production/kustomization.yaml',
        'resources:\n- ../../../shop/base\nimages: [\n'
      )
      const before = snapshot()
      const r = await cli('--path', 'apps/*/overlays/production', '--image', 'web:9')
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(
        /^error: apps\/cart\/overlays\/production\/kustomization\.yaml: malformed YAML at line \d+, column \d+: .*fix the YAML syntax/
      )
      expect(snapshot()).toEqual(before)
    })
    it('an unquoted numeric tag in the file (kustomize cannot read it either)', async () => {
      put(
        'apps/cart/overlays/production/kustomization.yaml',
        'images:\n- name: web\n  newTag: 1.10\n'
      )
      const r = await cli('--path', 'apps/cart/overlays/production', '--image', 'api:1')
      expect(r.code).toBe(2)
      expect(r.stderr).toContain(
        'cannot unmarshal number into Go struct field Image.images.newTag of type string (line 3); quote the value (newTag: "1.10")'
      )
    })
  })

  it('exit 1 for failures that are not bad input, and a multi-file edit writes all or nothing', async () => {
    // A file whose temporary sibling's name is too long for the file system (ENAMETOOLONG):
    // a failure root cannot bypass, unlike permissions.
    const long = `${'v'.repeat(240)}.yaml`
    put('values.yaml', 'a: old\n')
    put(long, 'b: old\n')
    const r = await cli('--set', 'values.yaml:a=new', '--set', `${long}:b=new`)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      new RegExp(
        `^error: cannot write ${long}: .*; check the file permissions and free disk space\\n$`
      )
    )
    expect(read('values.yaml')).toBe('a: old\n')
    expect(read(long)).toBe('b: old\n')
  })

  it('the job summary is one table row per edit; a | or line break in a value cannot break it', async () => {
    put('values.yaml', 'note: old\nsep: x\n')
    const outcome = await planEdits(root, {
      paths: [],
      images: [],
      sets: ['values.yaml:note=two\nlines', 'values.yaml:sep=a|b'],
      createKeys: false
    })
    expect(setImageCommand.summary({outcome, dryRun: true})).toBe(
      [
        '### set-image',
        '',
        '| file | image/key | before | after |',
        '| --- | --- | --- | --- |',
        '| values.yaml | note | old | two lines |',
        '| values.yaml | sep | x | a\\|b |',
        '',
        'Dry run: nothing was written.',
        ''
      ].join('\n')
    )
  })
})

const kubectl = !missingTool('kubectl')

describe.skipIf(!kubectl)('kubectl kustomize renders the intended images after the edit', () => {
  const images = (dir: string) =>
    execFileSync('kubectl', ['kustomize', join(root, dir)], {encoding: 'utf8'})
      .split('\n')
      .map(l => /^\s*(?:- )?image: (.*)$/.exec(l)?.[1])
      .filter((l): l is string => l !== undefined)
      .sort()

  it('commented overlay: tag bump, digest pin kept, new entry added', async () => {
    expect(images('apps/shop/overlays/production')).toEqual([
      'registry.example.com/shop/payments@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      'registry.example.com/shop/web:1.4.2',
      'worker:1.4.2'
    ])
    const r = await cli(
      '--path',
      'apps/shop/overlays/production',
      '--image',
      'web=*:1.10',
      '--image',
      'worker=registry.example.com/shop/worker:2.0@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
    )
    expect(r.code).toBe(0)
    expect(images('apps/shop/overlays/production')).toEqual([
      'registry.example.com/shop/payments@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      'registry.example.com/shop/web:1.10',
      'registry.example.com/shop/worker:2.0@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
    ])
  })
  it('overlays without images get a new block that kustomize applies', async () => {
    await cli(
      '--path',
      'apps/cart/overlays/*',
      '--image',
      'payments=*:true',
      '--image',
      'web=reg.example.com/web:1234'
    )
    for (const env of ['production', 'staging']) {
      expect(images(`apps/cart/overlays/${env}`)).toEqual([
        'payments:true',
        'reg.example.com/web:1234',
        'worker:0.1'
      ])
    }
  })
  it('CRLF + BOM overlay still renders', async () => {
    await cli(
      '--path',
      'apps/shop/overlays/staging',
      '--image',
      'web=*:2.0.1',
      '--image',
      'payments@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc'
    )
    expect(images('apps/shop/overlays/staging')).toEqual([
      'payments@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc',
      'web:2.0.1',
      'worker:0.1'
    ])
  })
})

describe('an edit that drops a tagSuffix (kustomize replaces the whole entry)', () => {
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'gitops-suffix-'))
  })

  it('says so in the JSON before and the text', async () => {
    put('kustomization.yaml', 'images:\n- name: web\n  newTag: "1.0"\n  tagSuffix: -alpine\n')
    const r = await cli('--image', 'web:2.0', '--json')
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).edits).toEqual([
      {
        file: 'kustomization.yaml',
        image: 'web',
        before: 'web:1.0 (tagSuffix -alpine)',
        after: 'web:2.0'
      }
    ])
    expect(read('kustomization.yaml')).not.toContain('tagSuffix')
    put('kustomization.yaml', 'images:\n- name: web\n  newTag: "1.0"\n  tagSuffix: -alpine\n')
    const text = await cli('--image', 'web:2.0')
    expect(text.stdout).toContain('web web:1.0 (tagSuffix -alpine) -> web:2.0')
  })
})
