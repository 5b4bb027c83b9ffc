import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'
import {UsageError} from '../../src/core/errors.js'
import {parsePromotionConfig} from '../../src/core/promotion/config.js'
import {
  discoverApps,
  resolveEnvironments,
  selectApps,
  templatePattern
} from '../../src/core/promotion/environments.js'
import {planPins, setImageArg, type PinEntry} from '../../src/core/promotion/pins.js'
import {planPromotion} from '../../src/core/promotion/plan.js'
import {parseImageArg} from '../../src/core/kustomize/image-arg.js'

const EXAMPLE = readFileSync(
  new URL('../../examples/config-repo/.gitops-deploy.yaml', import.meta.url),
  'utf8'
)

function usage(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError)
    return (e as Error).message
  }
  throw new Error('expected a UsageError')
}

function envs(...list: [string, string][]): string {
  return `environments:\n${list.map(([n, p]) => `  - name: "${n}"\n    path: "${p}"\n`).join('')}`
}

describe('promotion config', () => {
  it('reads the example config in order', () => {
    const c = parsePromotionConfig(EXAMPLE)
    expect(c.perApp).toBe(true)
    expect(c.environments).toEqual([
      {name: 'dev', path: 'apps/{app}/overlays/dev'},
      {name: 'staging', path: 'apps/{app}/overlays/staging'},
      {name: 'production', path: 'apps/{app}/overlays/production'}
    ])
  })

  it('fills {env} and accepts single-app templates without {app}', () => {
    const c = parsePromotionConfig(
      'environments:\n  - name: dev\n    path: deploy/{env}/\n  - name: prod\n    path: ./deploy/{env}\n'
    )
    expect(c.perApp).toBe(false)
    expect(c.environments.map(e => e.path)).toEqual(['deploy/dev', 'deploy/prod'])
  })

  it.each([
    ['envs: []', /unknown key 'envs'; the only top-level key is 'environments'/],
    ['environments: []', /non-empty list/],
    ['environments: {dev: x}', /non-empty list/],
    ['- a', /must be a mapping/],
    ['environments:\n  - name: dev\n', /\('dev'\) needs a string 'path'/],
    ['environments:\n  - path: a/{app}\n', /needs a string 'name'/],
    ['environments:\n  - name: dev\n    path: a/{app}\n    branch: x\n', /unknown key 'branch'/],
    [envs(['dev', 'a/{app}/d'], ['dev', 'a/{app}/e']), /'dev' is listed twice/],
    [envs(['dev', 'a/{app}/d'], ['prod', 'prod']), /prod have no \{app\}/],
    [envs(['dev', '../x/{app}']), /must stay inside the repo/],
    [envs(['dev', '/abs/{app}']), /is absolute/],
    [envs(['dev', 'apps/{name}/dev']), /unknown placeholder '\{name\}'/],
    [envs(['dev', 'apps/*/dev']), /glob characters/],
    [envs(['dev', 'a/{app}'], ['qa', 'a/{app}']), /share the path/],
    [envs(['dev env', 'a/{app}']), /may only hold letters/],
    [envs(['dev', '{app}/{app}x{app}']), /holds \{app\} twice/],
    ['environments:\n  - name: dev\n    path: [a]\n', /needs a string 'path'/],
    ['environments: [\n', /not valid YAML/]
  ])('rejects %j with a message naming the fix', (text, message) => {
    expect(usage(() => parsePromotionConfig(text))).toMatch(message)
  })
})

describe('environment resolution', () => {
  const config = parsePromotionConfig(EXAMPLE)

  it('resolves --to and --next', () => {
    expect(
      resolveEnvironments(config, {from: 'dev', to: 'production', next: false}).target.name
    ).toBe('production')
    const r = resolveEnvironments(config, {from: 'staging', next: true})
    expect(r.source.template).toBe('apps/{app}/overlays/staging')
    expect(r.target.template).toBe('apps/{app}/overlays/production')
  })

  it('lists the known environments for an unknown name', () => {
    expect(usage(() => resolveEnvironments(config, {from: 'prod', next: true}))).toBe(
      "--from 'prod' is not an environment in .gitops-deploy.yaml; use one of: dev, staging, production"
    )
    expect(usage(() => resolveEnvironments(config, {from: 'dev', to: 'qa', next: false}))).toMatch(
      /--to 'qa'.*use one of: dev, staging, production/
    )
  })

  it('refuses --next from the last environment, and conflicting flags', () => {
    expect(usage(() => resolveEnvironments(config, {from: 'production', next: true}))).toMatch(
      /'production' is the last environment .*dev -> staging -> production/
    )
    expect(
      usage(() => resolveEnvironments(config, {from: 'dev', to: 'staging', next: true}))
    ).toMatch(/not both/)
    expect(usage(() => resolveEnvironments(config, {from: 'dev', next: false}))).toMatch(
      /--to <env> or --next/
    )
    expect(usage(() => resolveEnvironments(config, {from: 'dev', to: 'dev', next: false}))).toMatch(
      /both 'dev'/
    )
  })

  it('takes directories without a config, and needs the config for --next', () => {
    const r = resolveEnvironments(undefined, {
      from: 'apps/web/overlays/dev/',
      to: 'apps/web/overlays/staging',
      next: false
    })
    expect(r).toEqual({
      source: {name: 'apps/web/overlays/dev', template: 'apps/web/overlays/dev'},
      target: {name: 'apps/web/overlays/staging', template: 'apps/web/overlays/staging'},
      perApp: false
    })
    expect(usage(() => resolveEnvironments(undefined, {from: 'a', next: true}))).toMatch(
      /--next needs .*\.gitops-deploy\.yaml/
    )
    expect(
      usage(() => resolveEnvironments(undefined, {from: '../a', to: 'b', next: false}))
    ).toMatch(/inside the repo/)
    expect(
      usage(() => resolveEnvironments(undefined, {from: 'a/{app}', to: 'b', next: false}))
    ).toMatch(/holds \{app\}/)
  })
})

describe('app discovery', () => {
  const files = [
    'apps/web/overlays/dev/kustomization.yaml',
    'apps/web/overlays/dev/config/app.properties',
    'apps/api/overlays/dev/kustomization.yaml',
    'apps/api/base/kustomization.yaml',
    'apps/.hidden/overlays/dev/kustomization.yaml',
    'apps/worker/overlays/staging/kustomization.yaml',
    'apps/web/overlays/dev-old/kustomization.yaml'
  ]

  it('lists directories matching the template, sorted', () => {
    expect(discoverApps('apps/{app}/overlays/dev', files)).toEqual(['api', 'web'])
    expect(discoverApps('apps/web/overlays/dev', files)).toEqual(['apps/web/overlays/dev'])
    expect(discoverApps('apps/none', files)).toEqual([])
  })

  it('treats template text literally and repeats {app} consistently', () => {
    expect(templatePattern('a.b/{app}').test('axb/x/f')).toBe(false)
    expect(
      discoverApps('{app}/deploy/{app}-dev', [
        'web/deploy/web-dev/k.yaml',
        'web/deploy/api-dev/k.yaml'
      ])
    ).toEqual(['web'])
  })

  it('filters with --app globs and rejects a glob that matches nothing', () => {
    expect(selectApps(['api', 'web', 'worker'], ['w*'], 'dev')).toEqual(['web', 'worker'])
    expect(selectApps(['api', 'web', 'worker'], ['worker', 'api'], 'dev')).toEqual([
      'api',
      'worker'
    ])
    expect(usage(() => selectApps(['api', 'web'], ['payments'], 'dev'))).toBe(
      "--app 'payments' matches no app in 'dev'; apps there: api, web"
    )
  })
})

describe('pin plan', () => {
  it('copies tag and digest, keeps a mirror newName in the target, leaves identical pins alone', () => {
    const source: PinEntry[] = [
      {name: 'ghcr.io/acme/web', newTag: '1.5.0'},
      {name: 'fluent/fluent-bit', newTag: '3.1'},
      {name: 'ghcr.io/acme/web-migrations', newTag: '1.5.0', digest: 'sha256:' + 'a'.repeat(64)}
    ]
    const target: PinEntry[] = [
      {name: 'fluent/fluent-bit', newTag: '3.1'},
      {name: 'ghcr.io/acme/web', newName: 'registry.acme.example/mirror/web', newTag: '1.4.1'},
      {name: 'ghcr.io/acme/web-migrations', newTag: '1.4.1'}
    ]
    const plan = planPins(source, target)
    expect(plan.args).toEqual([
      'ghcr.io/acme/web=registry.acme.example/mirror/web:1.5.0',
      `ghcr.io/acme/web-migrations:1.5.0@sha256:${'a'.repeat(64)}`
    ])
    expect(plan.images.map(i => [i.name, i.kind])).toEqual([
      ['ghcr.io/acme/web', 'promoted'],
      ['fluent/fluent-bit', 'unchanged'],
      ['ghcr.io/acme/web-migrations', 'promoted']
    ])
  })

  it('copy policy makes newName follow the source, removing a target-only newName', () => {
    const plan = planPins(
      [{name: 'web', newTag: '2'}],
      [{name: 'web', newName: 'mirror/web', newTag: '1'}],
      'copy'
    )
    expect(plan.args).toEqual(['web:2'])
    expect(
      planPins(
        [{name: 'web', newName: 'reg/web', newTag: '2'}],
        [{name: 'web', newTag: '1'}],
        'copy'
      ).args
    ).toEqual(['web=reg/web:2'])
  })

  it('drops a stale target digest when the source pins by tag only', () => {
    const plan = planPins(
      [{name: 'web', newTag: '2'}],
      [{name: 'web', newTag: '1', digest: 'sha256:' + 'b'.repeat(64)}]
    )
    expect(plan.args).toEqual(['web:2'])
    expect(plan.images[0]).toMatchObject({kind: 'promoted', after: {newTag: '2'}})
  })

  it('reports source-only images and skips what set image cannot express', () => {
    const plan = planPins(
      [
        {name: 'web', newTag: '2'},
        {name: 'sidecar', newTag: '9'},
        {name: 'plain'},
        {name: 'suffixed', newTag: '1', tagSuffix: '-debug'},
        {name: 'dup', newTag: '1'},
        {name: 'dup', newTag: '2'}
      ],
      [
        {name: 'web', newTag: '2'},
        {name: 'suffixed', newTag: '0'},
        {name: 'dup', newTag: '0'},
        {name: 'target-only', newTag: '5'}
      ]
    )
    expect(plan.args).toEqual([])
    expect(plan.images.map(i => i.kind)).toEqual([
      'unchanged',
      'not-in-target',
      'no-pin',
      'skipped',
      'skipped'
    ])
  })

  it('writes arguments the kustomize grammar reads back as the intended entry', () => {
    const cases: [string, Parameters<typeof setImageArg>[1]][] = [
      ['ghcr.io/acme/web', {newTag: '1.0'}],
      ['localhost:5000/team/web', {newTag: '1.0', digest: 'sha256:' + 'c'.repeat(64)}],
      ['nginx:1.25', {newTag: '1.26'}],
      ['localhost:5000', {digest: 'sha256:' + 'd'.repeat(64)}],
      ['web', {newName: 'reg.example.com:8443/web', newTag: 'feature-x'}],
      ['web', {newName: 'reg/web'}]
    ]
    for (const [name, pin] of cases) {
      const parsed = parseImageArg(setImageArg(name, pin))
      expect(parsed).toEqual({kind: 'ok', entry: {name, ...pin}})
    }
  })
})

describe('promotion plan', () => {
  const repo: Record<string, string> = {
    'apps/web/overlays/dev/kustomization.yaml': 'images:\n  - name: web\n    newTag: "2"\n',
    'apps/web/overlays/dev/config/app.properties': 'level=debug\n',
    'apps/web/overlays/dev/config/new.properties': 'x=1\n',
    'apps/web/overlays/staging/kustomization.yaml': 'images:\n  - name: web\n    newTag: "1"\n',
    'apps/web/overlays/staging/config/app.properties': 'level=info\n',
    'apps/api/overlays/dev/kustomization.yaml': 'images:\n  - name: api\n    newTag: "7"\n',
    'apps/api/overlays/staging/kustomization.yaml': 'images:\n  - name: api\n    newTag: "7"\n',
    'apps/batch/overlays/dev/kustomization.yaml': 'images:\n  - name: batch\n    newTag: "3"\n'
  }
  const resolved = resolveEnvironments(parsePromotionConfig(EXAMPLE), {
    from: 'dev',
    to: 'staging',
    next: false
  })
  const base = {
    resolved,
    files: Object.keys(repo),
    read: (p: string) => Buffer.from(repo[p] ?? ''),
    readEntries: (text: string) =>
      ((parse(text) as {images?: PinEntry[]}).images ?? []) as PinEntry[],
    policy: 'keep' as const,
    fileGlobs: [] as string[]
  }

  it('a target directory that holds no files (a typo in --to) is exit 2 naming it, not "already identical"', () => {
    const typo = resolveEnvironments(undefined, {
      from: 'apps/web/overlays/dev',
      to: 'apps/web/overlays/stagign',
      next: false
    })
    expect(usage(() => planPromotion({...base, resolved: typo, apps: ['']}))).toMatch(
      /directory apps\/web\/overlays\/stagign holds no files in the config repo, so nothing can be promoted into it; check --to/
    )
  })

  it('promotes, leaves identical apps alone and reports missing ones', () => {
    const plan = planPromotion({...base, apps: ['api', 'batch', 'web']})
    expect(plan.apps.map(a => [a.app, a.status])).toEqual([
      ['api', 'unchanged'],
      ['batch', 'missing-in-target'],
      ['web', 'promoted']
    ])
    expect(plan.edits).toEqual([
      {app: 'web', file: 'apps/web/overlays/staging/kustomization.yaml', args: ['web:2']}
    ])
    expect(plan.apps[1].images).toEqual([
      {kind: 'not-in-target', name: 'batch', pin: {newTag: '3'}}
    ])
  })

  it('copies --files verbatim, never the kustomization, and names an idle glob', () => {
    const plan = planPromotion({...base, apps: ['api', 'web'], fileGlobs: ['**']})
    expect(plan.copies.map(c => [c.from, c.to])).toEqual([
      [
        'apps/web/overlays/dev/config/app.properties',
        'apps/web/overlays/staging/config/app.properties'
      ],
      [
        'apps/web/overlays/dev/config/new.properties',
        'apps/web/overlays/staging/config/new.properties'
      ]
    ])
    expect(plan.apps[1].files.map(f => f.kind)).toEqual(['updated', 'created'])
    expect(
      usage(() => planPromotion({...base, apps: ['web'], fileGlobs: ['conf/*.properties']}))
    ).toMatch(/--files 'conf\/\*\.properties' matches no file under apps\/web\/overlays\/dev/)
    expect(
      usage(() => planPromotion({...base, apps: ['web'], fileGlobs: ['kustomization.yaml']}))
    ).toMatch(/only matches the kustomization, which is never copied/)
  })

  it('rejects a source without a kustomization', () => {
    expect(
      usage(() =>
        planPromotion({
          ...base,
          files: [...base.files, 'apps/docs/overlays/dev/README.md'],
          apps: ['docs']
        })
      )
    ).toMatch(/apps\/docs\/overlays\/dev has no kustomization\.yaml/)
  })
})

describe('promote option table', () => {
  it('declares no action defaults (shared action inputs would feed them to other commands)', async () => {
    const {promoteCommand} = await import('../../src/commands/promote.js')
    expect(promoteCommand.options.filter(o => o.default !== undefined).map(o => o.name)).toEqual([])
    const names = promoteCommand.options.map(o => o.name)
    expect(new Set(names).size).toBe(names.length)
    for (const o of [
      'pr-number',
      'pr-url',
      'pr-operation',
      'promoted',
      'missing',
      'commit',
      'branch'
    ]) {
      expect(promoteCommand.outputSpecs.map(s => s.name)).toContain(o)
    }
  })
})
