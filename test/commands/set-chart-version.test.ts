import {mkdir, readFile, rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {setChartVersion} from '../../src/core/helm/chart-version.js'
import {UsageError} from '../../src/core/errors.js'
import {GitHubDouble} from '../doubles/github-double.js'
import {cli} from '../helpers/cli.js'
import {projectRepo, tempDir, type ProjectRepo} from '../helpers/git-fixtures.js'
import {startGitHttpServer, type GitHttpServer} from '../helpers/git-http-server.js'
import {APP_TOKEN} from '../delivery/helpers.js'

const CHART = `# The web chart
apiVersion: v2
name: web
description: "Web frontend"   # shown in the catalog
type: application
version: 1.4.1 # bumped by CI
appVersion: "3f2a9c1"
`

const KUSTOMIZATION = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
helmCharts:
  - name: ingress-nginx
    repo: https://kubernetes.github.io/ingress-nginx
    version: 4.10.0
    releaseName: ingress
  - {name: cert-manager, repo: https://charts.jetstack.io, version: v1.14.4}
`

describe('setChartVersion (pure, byte-preserving)', () => {
  it("bumps a Chart.yaml's version and keeps every other byte", () => {
    const r = setChartVersion(CHART, {file: 'charts/web/Chart.yaml', version: '1.5.0'})
    expect(r).toMatchObject({kind: 'changed', before: '1.4.1', after: '1.5.0'})
    expect(r.text).toBe(CHART.replace('version: 1.4.1 #', 'version: 1.5.0 #'))
  })

  it('bumps the named helmCharts entry of a kustomization (block and flow style), nothing else', () => {
    const a = setChartVersion(KUSTOMIZATION, {
      file: 'infra/kustomization.yaml',
      chart: 'ingress-nginx',
      version: '4.11.1'
    })
    expect(a.text).toBe(KUSTOMIZATION.replace('version: 4.10.0', 'version: 4.11.1'))
    const b = setChartVersion(KUSTOMIZATION, {
      file: 'infra/kustomization.yaml',
      chart: 'cert-manager',
      version: 'v1.15.0'
    })
    expect(b.text).toBe(KUSTOMIZATION.replace('version: v1.14.4}', 'version: v1.15.0}'))
  })

  it('is unchanged when the version is already set', () => {
    const r = setChartVersion(CHART, {file: 'Chart.yaml', version: '1.4.1'})
    expect(r).toMatchObject({kind: 'unchanged', text: CHART})
  })

  it('refuses what cannot work, naming the flag and the fix', () => {
    const cases: [Parameters<typeof setChartVersion>[1], RegExp][] = [
      [{file: 'Chart.yaml', version: 'latest'}, /^--version "latest" is not a SemVer version/],
      [
        {file: 'Chart.yaml', chart: 'web', version: '1.0.0'},
        /^--chart only applies to a kustomization/
      ],
      [
        {file: 'kustomization.yaml', version: '1.0.0'},
        /^--chart is required for kustomization.yaml/
      ],
      [{file: 'values.yaml', version: '1.0.0'}, /is neither a Chart.yaml nor a kustomization.yaml/],
      [{file: 'kustomization.yaml', chart: 'absent', version: '1.0.0'}, /absent/]
    ]
    for (const [request, message] of cases) {
      const text = request.file === 'Chart.yaml' ? CHART : KUSTOMIZATION
      expect(() => setChartVersion(text, request)).toThrow(UsageError)
      expect(() => setChartVersion(text, request)).toThrow(message)
    }
  })
})

const FILES = {'charts/web/Chart.yaml': CHART, 'infra/kustomization.yaml': KUSTOMIZATION}
const bump = [
  '--file',
  'infra/kustomization.yaml',
  '--chart',
  'ingress-nginx',
  '--version',
  '4.11.1'
]
const BUMPED = KUSTOMIZATION.replace('version: 4.10.0', 'version: 4.11.1')

describe('set-chart-version through every delivery mode', () => {
  it('-C: edits the checkout; --dry-run writes nothing', async () => {
    const root = await tempDir()
    try {
      for (const [f, text] of Object.entries(FILES)) {
        await mkdir(join(root, f, '..'), {recursive: true})
        await writeFile(join(root, f), text)
      }
      const dry = await cli(['set-chart-version', '-C', root, ...bump, '--dry-run', '--json'])
      expect(dry.code).toBe(0)
      expect(JSON.parse(dry.stdout)).toMatchObject({changed: true, dryRun: true, before: '4.10.0'})
      expect(await readFile(join(root, 'infra/kustomization.yaml'), 'utf8')).toBe(KUSTOMIZATION)
      const r = await cli(['set-chart-version', '-C', root, ...bump])
      expect(r.code).toBe(0)
      expect(r.stdout).toContain('infra/kustomization.yaml: helmCharts[name=ingress-nginx].version')
      expect(await readFile(join(root, 'infra/kustomization.yaml'), 'utf8')).toBe(BUMPED)
      const bad = await cli(['set-chart-version', '-C', root, ...bump, '--labels', 'x'])
      expect(bad.code).toBe(2)
      expect(bad.stderr).toBe(
        'error: --labels only applies with --repo; add --repo <url> or drop --labels\n'
      )
    } finally {
      await rm(root, {recursive: true, force: true})
    }
  })

  describe('against a served config repo and the GitHub double', () => {
    let repo: ProjectRepo
    let server: GitHttpServer
    let gh: GitHubDouble
    beforeEach(async () => {
      repo = await projectRepo(FILES, {allowForcePush: true})
      server = await startGitHttpServer({
        root: repo.root,
        credentials: [{user: 'x-access-token', password: APP_TOKEN, access: 'write'}]
      })
      gh = await GitHubDouble.start({
        token: APP_TOKEN,
        repos: [{owner: 'acme', repo: 'config', gitDir: repo.dir}]
      })
    })
    afterEach(async () => {
      expect(gh.violations).toEqual([])
      await gh.close()
      await server.close()
      await repo.fsck()
      await repo.dispose()
    })
    const run = (...extra: string[]) =>
      cli(
        [
          'set-chart-version',
          '--repo',
          server.repoUrl('acme/config.git'),
          '--provider',
          'github',
          '--api-url',
          gh.apiUrl,
          ...bump,
          '--json',
          ...extra
        ],
        {GITOPS_TOKEN: APP_TOKEN}
      )

    for (const transport of ['git', 'api']) {
      it(`push over ${transport}: one commit touching only the version`, async () => {
        const before = await repo.head()
        const r = await run('--transport', transport)
        expect(r.stderr).toBe('')
        expect(r.code).toBe(0)
        const out = JSON.parse(r.stdout)
        expect(out).toMatchObject({changed: true, pushed: true, transport, branch: 'main'})
        expect(out.commit).toBe(await repo.head())
        expect(await repo.readFile('infra/kustomization.yaml')).toBe(BUMPED)
        expect(await repo.readFile('charts/web/Chart.yaml')).toBe(CHART)
        const [head] = await repo.log()
        expect(head.parents).toEqual([before])
        // A re-run finds nothing to do.
        const again = JSON.parse((await run('--transport', transport)).stdout)
        expect(again).toMatchObject({changed: false, pushed: false})
      })

      it(`pull request over ${transport}: the branch carries the bump, the PR is opened`, async () => {
        const r = await run('--mode', 'pr', '--transport', transport)
        expect(r.code).toBe(0)
        const out = JSON.parse(r.stdout)
        expect(out).toMatchObject({
          changed: true,
          pullRequest: {number: 1, operation: 'created'},
          transport
        })
        expect(await repo.readFile('infra/kustomization.yaml', out.branch)).toBe(BUMPED)
        expect(await repo.readFile('infra/kustomization.yaml')).toBe(KUSTOMIZATION)
        expect(gh.pulls).toHaveLength(1)
      })
    }
  })
})
