import {mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {deliver} from '../../src/delivery/deliver.js'
import {setImageEdit} from '../../src/edits/set-image.js'
import {kubectlRenderer} from '../../src/edits/renderer.js'
import {imageReferences, kustomizationReferences} from '../../src/core/kustomize/references.js'
import {memoryPlatform} from '../../src/platform/port.js'
import {Redactor} from '../../src/core/redact.js'
import {cli} from '../helpers/cli.js'
import {missingTool} from '../helpers/tools.js'
import {deployment, projectRepo, type FileMap, type ProjectRepo} from '../helpers/git-fixtures.js'
import {startGitHttpServer, type GitHttpServer} from '../helpers/git-http-server.js'
import {fakeToken} from '../helpers/fake-token.js'
import {GitHubDouble} from '../doubles/github-double.js'

const noKubectl = missingTool('kubectl')

/** Two apps, each an overlay over a base in another directory (outside any sparse set). */
function configRepo(): FileMap {
  return {
    'README.md': '# config\n',
    'apps/web/base/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
    'apps/web/base/deployment.yaml': deployment('web', 'ghcr.io/acme/web:1.0.0'),
    'apps/web/overlays/dev/kustomization.yaml':
      'resources:\n  - ../../base\npatches:\n  - path: replicas.yaml\nimages:\n  - name: ghcr.io/acme/web\n    newTag: 1.0.0\n',
    'apps/web/overlays/dev/replicas.yaml':
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n',
    'apps/api/base/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
    'apps/api/base/deployment.yaml': deployment('api', 'ghcr.io/acme/api:1.0.0'),
    'apps/api/overlays/dev/kustomization.yaml': 'resources:\n  - ../../base\n'
  }
}

function writeTree(root: string, files: FileMap): void {
  for (const [path, text] of Object.entries(files)) {
    if (text === null) continue
    mkdirSync(join(root, path, '..'), {recursive: true})
    writeFileSync(join(root, path), text)
  }
}

describe('kustomization references (what a render reads)', () => {
  it('lists local paths of every referring field, and leaves remote bases out', () => {
    const refs = kustomizationReferences(`resources:
  - ../../base
  - https://github.com/acme/shared//base?ref=v1
  - github.com/acme/other/base?ref=main
  - ns.yaml
components: [../../components/tls]
patches:
  - path: replicas.yaml
  - patch: |-
      - op: replace
        path: /spec/replicas
        value: 3
configMapGenerator:
  - name: app
    files: [config/app.properties, extra=config/extra.txt]
    envs: [.env]
helmCharts:
  - name: redis
    valuesFile: values/redis.yaml
`)
    expect(refs).toEqual([
      '../../base',
      'ns.yaml',
      '../../components/tls',
      'replicas.yaml',
      'config/app.properties',
      'config/extra.txt',
      '.env',
      'values/redis.yaml'
    ])
    expect(kustomizationReferences('resources: [unterminated')).toEqual([])
  })

  it('finds every image a render runs', () => {
    const yaml = `spec:\n  template:\n    spec:\n      initContainers:\n      - image: busybox:1.36\n      containers:\n      - image: "ghcr.io/acme/web@sha256:${'a'.repeat(64)}"\n        name: web\n      - name: side\n        image: reg:5000/side:2\n`
    expect(imageReferences(yaml)).toEqual([
      'busybox:1.36',
      `ghcr.io/acme/web@sha256:${'a'.repeat(64)}`,
      'reg:5000/side:2'
    ])
    // JSON manifests too.
    expect(
      imageReferences('{"spec": {"containers": [{"name": "a",\n  "image": "nginx:1.27"}]}}')
    ).toEqual(['nginx:1.27'])
  })
})

describe.skipIf(noKubectl)('the render check on a local tree (-C)', () => {
  let root: string
  const read = (rel: string) => readFileSync(join(root, rel), 'utf8')
  const run = (...args: string[]) => cli(['set-image', '-C', root, ...args])

  beforeEach(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'render-check-')))
    writeTree(root, configRepo())
  })

  it('renders the touched overlay with its base and reports it', async () => {
    const r = await run(
      '--path',
      'apps/web/overlays/dev',
      '--image',
      'ghcr.io/acme/web:1.1.0',
      '--json'
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).checks).toEqual([
      {
        check: 'render',
        status: 'passed',
        text: 'render check: 1 kustomization rendered with kubectl kustomize',
        rendered: ['apps/web/overlays/dev'],
        tool: 'kubectl kustomize'
      }
    ])
    expect(read('apps/web/overlays/dev/kustomization.yaml')).toContain('newTag: 1.1.0')
  })

  it('refuses an edit whose render fails, with the renderer message, and writes nothing', async () => {
    const before = read('apps/web/overlays/dev/replicas.yaml')
    // A patch aimed at a Deployment the base does not have: kustomize cannot apply it.
    const r = await run('--set', 'apps/web/overlays/dev/replicas.yaml:metadata.name=wbe')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /^error: render check: a kustomization does not render after this change, so nothing was pushed: apps\/web\/overlays\/dev: .*wbe.*Fix the edit, or pass --render-check never/
    )
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(read('apps/web/overlays/dev/replicas.yaml')).toBe(before)
  })

  it('refuses an image entry no container runs (a typo in one named overlay)', async () => {
    const before = read('apps/web/overlays/dev/kustomization.yaml')
    const r = await run('--path', 'apps/web/overlays/dev', '--image', 'ghcr.io/acme/wbe:1.1.0')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(
      'apps/web/overlays/dev sets ghcr.io/acme/wbe to ghcr.io/acme/wbe:1.1.0, but no container there runs it (rendered images: ghcr.io/acme/web)'
    )
    expect(read('apps/web/overlays/dev/kustomization.yaml')).toBe(before)
  })

  it('lets an edit through a kustomization that did not render before either, and says so', async () => {
    writeFileSync(
      join(root, 'apps/api/overlays/dev/kustomization.yaml'),
      'resources:\n  - ../../base\n  - missing.yaml\n'
    )
    const r = await run(
      '--path',
      'apps/api/overlays/dev',
      '--image',
      'ghcr.io/acme/api:2.0.0',
      '--json'
    )
    expect(r.code).toBe(0)
    const check = JSON.parse(r.stdout).checks[0]
    expect(check.status).toBe('passed')
    expect(check.notes[0]).toMatch(
      /^apps\/api\/overlays\/dev did not render before this change either \(.*missing\.yaml.*\); not checked$/
    )
  })

  it('--render-check never pushes what the check would refuse, and says off', async () => {
    const r = await run(
      '--set',
      'apps/web/overlays/dev/replicas.yaml:metadata.name=wbe',
      '--render-check',
      'never',
      '--json'
    )
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).checks[0]).toMatchObject({check: 'render', status: 'off'})
    expect(read('apps/web/overlays/dev/replicas.yaml')).toContain('name: wbe')
  })

  it('a value file outside any kustomization: nothing to render', async () => {
    writeFileSync(join(root, 'values.yaml'), 'image:\n  tag: 1.0.0\n')
    const r = await run('--set', 'values.yaml:image.tag=1.1.0', '--json')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).checks[0]).toMatchObject({status: 'none'})
  })

  it('renders many overlays in batches and still names the one that does not run the image', async () => {
    for (const env of ['qa', 'staging', 'prod']) {
      mkdirSync(join(root, `apps/web/overlays/${env}`), {recursive: true})
      writeFileSync(
        join(root, `apps/web/overlays/${env}/kustomization.yaml`),
        `namespace: web-${env}\nresources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/web\n    newTag: 1.0.0\n`
      )
    }
    // dev pins web but runs only the api base: a dead entry from before, which the bump would touch.
    writeFileSync(
      join(root, 'apps/web/overlays/dev/kustomization.yaml'),
      'resources:\n  - ../../../api/base\nimages:\n  - name: ghcr.io/acme/web\n    newTag: 1.0.0\n'
    )
    const r = await run('--path', 'apps/web/overlays/*', '--image', 'ghcr.io/acme/web:1.1.0')
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      'error: render check: apps/web/overlays/dev sets ghcr.io/acme/web to ghcr.io/acme/web:1.1.0, but no container there runs it (rendered images: ghcr.io/acme/api). The entry would change nothing in the cluster: check the image name (kustomize matches the container image without its tag), or pass --render-check never to push without rendering\n'
    )
    // Without the dead entry, all four render in one batch and pass.
    writeFileSync(
      join(root, 'apps/web/overlays/dev/kustomization.yaml'),
      'resources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/web\n    newTag: 1.0.0\n'
    )
    const ok = await run(
      '--path',
      'apps/web/overlays/*',
      '--image',
      'ghcr.io/acme/web:1.1.0',
      '--json'
    )
    expect(ok.code).toBe(0)
    expect(JSON.parse(ok.stdout).checks[0].rendered).toEqual([
      'apps/web/overlays/dev',
      'apps/web/overlays/prod',
      'apps/web/overlays/qa',
      'apps/web/overlays/staging'
    ])
  })

  it('a batch that fails is rendered overlay by overlay: only the broken one is named', async () => {
    for (const env of ['qa', 'staging', 'prod']) {
      mkdirSync(join(root, `apps/web/overlays/${env}`), {recursive: true})
      writeFileSync(
        join(root, `apps/web/overlays/${env}/kustomization.yaml`),
        `namespace: web-${env}\nresources:\n  - ../../base\npatches:\n  - path: replicas.yaml\nimages:\n  - name: ghcr.io/acme/web\n    newTag: 1.0.0\n`
      )
      writeFileSync(
        join(root, `apps/web/overlays/${env}/replicas.yaml`),
        read('apps/web/overlays/dev/replicas.yaml')
      )
    }
    const before = read('apps/web/overlays/qa/replicas.yaml')
    const r = await run(
      '--path',
      'apps/web/overlays/*',
      '--image',
      'ghcr.io/acme/web:1.1.0',
      '--set',
      'apps/web/overlays/qa/replicas.yaml:metadata.name=wbe'
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /^error: render check: a kustomization does not render after this change, so nothing was pushed: apps\/web\/overlays\/qa: /
    )
    expect(r.stderr).not.toMatch(/overlays\/(dev|staging|prod):/)
    expect(read('apps/web/overlays/qa/replicas.yaml')).toBe(before)
    expect(read('apps/web/overlays/prod/kustomization.yaml')).toContain('newTag: 1.0.0')
  })

  it('rejects an unknown --render-check value', async () => {
    const r = await run(
      '--path',
      'apps/web/overlays/dev',
      '--image',
      'web:1',
      '--render-check',
      'sometimes'
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--render-check 'sometimes' is not known; use auto/)
  })
})

describe('the render check without a renderer', () => {
  const missing = kubectlRenderer({
    kubectl: '/nonexistent/kubectl',
    kustomize: '/nonexistent/kustomize'
  })
  let root: string
  beforeEach(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'render-check-none-')))
    writeTree(root, configRepo())
  })
  const request = {
    paths: ['apps/web/overlays/dev'],
    images: ['ghcr.io/acme/web:1.1.0'],
    sets: [],
    createKeys: false
  }

  it('auto: the edit lands and the log says the check was skipped and how to get it', async () => {
    const platform = memoryPlatform(new Redactor())
    const d = await deliver(
      setImageEdit(request),
      {mode: 'local', root, dryRun: false, renderCheck: 'auto', renderer: missing},
      platform
    )
    expect(d.outcome.changed).toBe(true)
    expect(d.checks).toEqual([
      {
        check: 'render',
        status: 'skipped',
        text: 'render check skipped: kubectl was not found on PATH (nor kustomize); install kubectl (it bundles kustomize) on the runner',
        rendered: []
      }
    ])
    expect(platform.lines).toContain(d.checks[0].text)
  })

  it('always: exit 2 naming the fix, nothing written', async () => {
    const before = readFileSync(join(root, 'apps/web/overlays/dev/kustomization.yaml'), 'utf8')
    await expect(
      deliver(
        setImageEdit(request),
        {mode: 'local', root, dryRun: false, renderCheck: 'always', renderer: missing},
        memoryPlatform(new Redactor())
      )
    ).rejects.toThrow(
      /^--render-check always: kubectl was not found on PATH \(nor kustomize\); install kubectl .*, or use --render-check auto/
    )
    expect(readFileSync(join(root, 'apps/web/overlays/dev/kustomization.yaml'), 'utf8')).toBe(
      before
    )
  })
})

describe.skipIf(noKubectl)('the render check on a push over smart HTTP (sparse clone)', () => {
  const TOKEN = fakeToken('ghs_', 'RenderCheckHttpToken')
  let repo: ProjectRepo
  let server: GitHttpServer
  beforeAll(async () => {
    repo = await projectRepo(configRepo(), {prefix: 'render-check-http-'})
    server = await startGitHttpServer({
      root: repo.root,
      credentials: [{user: 'x-access-token', password: TOKEN, access: 'write'}]
    })
  })
  afterAll(async () => {
    await server.close()
    await repo.dispose()
  })
  const push = (...args: string[]) =>
    cli(
      [
        'set-image',
        '--repo',
        server.repoUrl('acme/config.git'),
        '--transport',
        'git',
        '--json',
        ...args
      ],
      {GITOPS_TOKEN: TOKEN}
    )

  it('widens the sparse checkout to the base outside the overlay and renders it', async () => {
    const r = await push('--path', 'apps/web/overlays/dev', '--image', 'ghcr.io/acme/web:1.2.0')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({
      pushed: true,
      checks: [{status: 'passed', rendered: ['apps/web/overlays/dev']}]
    })
    expect(r.stderr).not.toContain(TOKEN)
  })

  it('a broken render is refused before the push: the remote refs stay as they were', async () => {
    const refs = await repo.git(['show-ref'])
    const r = await push('--set', 'apps/web/overlays/dev/replicas.yaml:metadata.name=wbe')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /^error: render check: a kustomization does not render after this change/
    )
    expect(await repo.git(['show-ref'])).toBe(refs)
  })
})

describe.skipIf(noKubectl)('the render check on the GitHub API transport (no clone)', () => {
  const TOKEN = fakeToken('ghs_', 'RenderCheckApiToken')
  let repo: ProjectRepo
  let gh: GitHubDouble
  beforeAll(async () => {
    repo = await projectRepo(configRepo(), {prefix: 'render-check-api-'})
    gh = await GitHubDouble.start({
      token: TOKEN,
      repos: [{owner: 'acme', repo: 'config', gitDir: repo.dir}]
    })
  })
  afterAll(async () => {
    expect(gh.violations).toEqual([])
    await gh.close()
    await repo.dispose()
  })
  /** set-image against the GitHub double; `push` commits over the API. */
  const github = (...args: string[]) =>
    cli(
      ['set-image', '--repo', repo.url, '--provider', 'github', '--api-url', gh.apiUrl, ...args],
      {GITOPS_TOKEN: TOKEN}
    )
  const push = (...args: string[]) => github('--transport', 'api', '--json', ...args)

  it('reads the base through the API, renders, and commits', async () => {
    const r = await push('--path', 'apps/web/overlays/dev', '--image', 'ghcr.io/acme/web:1.3.0')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({
      pushed: true,
      transport: 'api',
      checks: [{status: 'passed', rendered: ['apps/web/overlays/dev']}]
    })
  })

  for (const transport of ['api', 'git']) {
    it(`PR mode (${transport}): a broken render opens no pull request and pushes no branch`, async () => {
      const refs = await repo.git(['show-ref'])
      gh.requests.length = 0
      const r = await github(
        '--mode',
        'pr',
        '--transport',
        transport,
        '--set',
        'apps/web/overlays/dev/replicas.yaml:metadata.name=wbe'
      )
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(
        /^error: render check: a kustomization does not render after this change/
      )
      expect(gh.requests.map(q => q.operationId)).not.toContain('pulls/create')
      expect(await repo.git(['show-ref'])).toBe(refs)
    })
  }

  it('refuses a typo before any commit is made', async () => {
    const refs = await repo.git(['show-ref'])
    gh.requests.length = 0
    const r = await push('--path', 'apps/web/overlays/dev', '--image', 'ghcr.io/acme/wbe:1.3.0')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/no container there runs it/)
    expect(gh.requests.map(q => q.operationId)).not.toContain('graphql')
    expect(await repo.git(['show-ref'])).toBe(refs)
  })
})
