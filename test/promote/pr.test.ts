import {execFileSync} from 'node:child_process'
import {afterEach, describe, expect, it} from 'vitest'
import {parseMarker} from '../../src/forge/pr-body.js'
import {GitHubDouble} from '../doubles/github-double.js'
import {GitLabDouble} from '../doubles/gitlab-double.js'
import {exampleFiles} from '../helpers/git-fixtures.js'
import {TOKEN, cli, exampleRepo, type ExampleRepo} from './helpers.js'
import {fakeToken} from '../helpers/fake-token.js'

const hasKubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
})()

let repo: ExampleRepo | undefined
let gh: GitHubDouble | undefined
let gl: GitLabDouble | undefined

afterEach(async () => {
  // Every request the code made must be one the real API accepts.
  if (gh) expect(gh.violations).toEqual([])
  if (gl) expect(gl.violations).toEqual([])
  await gh?.close()
  await gl?.close()
  await repo?.dispose()
  gh = gl = repo = undefined
})

async function github(extra = {}) {
  repo = await exampleRepo(extra)
  gh = await GitHubDouble.start({
    token: TOKEN,
    repos: [
      {
        owner: 'acme',
        repo: 'config',
        gitDir: repo.dir,
        collaborators: ['alice'],
        teams: ['prod-approvers']
      }
    ]
  })
  return {repo, gh}
}

const ghArgs = () => ['--repo', repo!.url, '--provider', 'github', '--api-url', gh!.apiUrl]

describe('promote --mode pr against the GitHub double', () => {
  it('opens one PR promoting three apps, with the change table and the rendered diff', async () => {
    await github()
    const base = await repo!.head()
    const r = await cli(
      [
        'promote',
        ...ghArgs(),
        '--from',
        'dev',
        '--next',
        '--labels',
        'promotion',
        '--team-reviewers',
        'prod-approvers',
        '--json'
      ],
      {GITOPS_TOKEN: TOKEN}
    )
    expect(r.stderr).not.toMatch(/^error/m)
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({
      outcome: 'pr',
      changed: true,
      pushed: true,
      branch: 'gitops-deploy/promote/dev-to-staging'
    })
    expect(out.pr).toMatchObject({number: 1, operation: 'created'})
    expect(gh!.pulls).toHaveLength(1)
    const pr = gh!.pulls[0]
    expect(pr).toMatchObject({
      head: 'gitops-deploy/promote/dev-to-staging',
      base: 'main',
      title: 'Promote dev to staging: api, web, worker',
      labels: ['promotion'],
      requested_teams: ['prod-approvers']
    })
    expect(pr.body).toContain('Promotes **dev → staging**: 3 apps (`api`, `web`, `worker`).')
    expect(pr.body).toContain(
      '| web | `ghcr.io/acme/web` | `1.4.2` | `3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39` |'
    )
    expect(pr.body).toContain('| api | `ghcr.io/acme/api-migrations` | `2.7.0` | `2.8.0-rc.1` |')
    expect(pr.body.length).toBeLessThanOrEqual(65_536)
    const marker = parseMarker(pr.body)
    expect(marker).toMatchObject({
      branch: 'gitops-deploy/promote/dev-to-staging',
      base: 'main',
      count: 6
    })
    if (hasKubectl) {
      expect(pr.body).toContain(
        '<details><summary><code>apps/web/overlays/staging</code> (+2 −2)</summary>'
      )
      expect(pr.body).toContain(
        '-      - image: ghcr.io/acme/web:1.4.2\n+      - image: ghcr.io/acme/web:3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39'
      )
      expect(pr.body).toContain('+      - image: ghcr.io/acme/worker-migrations:2.8.0-rc.1')
    } else {
      expect(pr.body).toContain('kubectl was not found')
    }
    // The base branch is untouched; the PR branch is base + one commit.
    expect(await repo!.head()).toBe(base)
    const log = await repo!.log('gitops-deploy/promote/dev-to-staging')
    expect(log[0].parents).toEqual([base])
    expect(log[0].subject).toBe('Promote dev to staging: api, web, worker')
    expect(log[0].body).toContain('Gitops-Deploy-Branch: gitops-deploy/promote/dev-to-staging')
  })

  it('re-running updates the same PR: unchanged when nothing moved, updated after dev moves', async () => {
    await github()
    const args = ['promote', ...ghArgs(), '--from', 'dev', '--to', 'staging', '--json']
    expect((await cli(args, {GITOPS_TOKEN: TOKEN})).code).toBe(0)
    const again = JSON.parse((await cli(args, {GITOPS_TOKEN: TOKEN})).stdout)
    expect(again).toMatchObject({changed: false, pr: {number: 1, operation: 'unchanged'}})
    await repo!.commit(
      {
        'apps/api/overlays/dev/kustomization.yaml': (
          await repo!.readFile('apps/api/overlays/dev/kustomization.yaml')
        ).replace(/2\.8\.0-rc\.1/g, '2.8.0')
      },
      'api 2.8.0 in dev'
    )
    const moved = JSON.parse((await cli(args, {GITOPS_TOKEN: TOKEN})).stdout)
    expect(moved).toMatchObject({changed: true, pr: {number: 1, operation: 'updated'}})
    expect(gh!.pulls).toHaveLength(1)
    expect(gh!.pulls[0].body).toContain('| api | `ghcr.io/acme/api` | `2.7.0` | `2.8.0` |')
  })

  it('rejects bad targets and app globs with exit 2 before opening anything', async () => {
    await github()
    const same = await cli(['promote', ...ghArgs(), '--from', 'production', '--to', 'production'], {
      GITOPS_TOKEN: TOKEN
    })
    expect(same.code).toBe(2)
    expect(same.stderr).toMatch(/--from and --to are both 'production'/)
    const glob = await cli(
      ['promote', ...ghArgs(), '--from', 'dev', '--to', 'staging', '--app', 'none*'],
      {GITOPS_TOKEN: TOKEN}
    )
    expect(glob.code).toBe(2)
    expect(glob.stderr).toBe(
      "error: --app 'none*' matches no app in 'dev'; apps there: api, web, worker\n"
    )
    const next = await cli(['promote', ...ghArgs(), '--from', 'qa', '--next'], {
      GITOPS_TOKEN: TOKEN
    })
    expect(next.code).toBe(2)
    expect(next.stderr).toMatch(
      /--from 'qa' is not an environment in \.gitops-deploy\.yaml; use one of: dev, staging, production/
    )
    expect(gh!.pulls).toHaveLength(0)
    expect(await repo!.git(['branch', '--list', 'gitops-deploy/*'])).toBe('')
  })

  it('reports a no-op without a PR when every pin is already identical', async () => {
    await github({
      'apps/api/overlays/staging/kustomization.yaml': (await exampleFiles())[
        'apps/api/overlays/dev/kustomization.yaml'
      ]!
    })
    const r = await cli(
      ['promote', ...ghArgs(), '--from', 'dev', '--next', '--app', 'api', '--json'],
      {GITOPS_TOKEN: TOKEN}
    )
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({outcome: 'no-op', changed: false, pr: null})
    expect(gh!.pulls).toHaveLength(0)
  })

  it('needs a token, and keeps it out of every output', async () => {
    await github()
    const none = await cli(['promote', ...ghArgs(), '--from', 'dev', '--next'])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/PR mode needs an API token in GITOPS_TOKEN/)
    const wrong = fakeToken('ghs_', 'wrongTokenWrongToken')
    const bad = await cli(['promote', ...ghArgs(), '--from', 'dev', '--next'], {
      GITOPS_TOKEN: wrong
    })
    expect(bad.code).toBe(1)
    expect(bad.stderr + bad.stdout).not.toContain(wrong)
    expect(gh!.pulls).toHaveLength(0)
  })
})

describe('promote --mode pr against the GitLab double', () => {
  it('opens one merge request promoting three apps', async () => {
    repo = await exampleRepo()
    gl = await GitLabDouble.start({
      token: TOKEN,
      projects: [{id: 42, path: 'acme/config', gitDir: repo.dir}],
      users: [{id: 7, username: 'alice'}]
    })
    const r = await cli(
      [
        'promote',
        '--repo',
        repo.url,
        '--provider',
        'gitlab',
        '--api-url',
        gl.apiUrl,
        '--from',
        'staging',
        '--next',
        '--reviewers',
        'alice',
        '--json'
      ],
      {GITOPS_TOKEN: TOKEN}
    )
    expect(r.stderr).not.toMatch(/^error/m)
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({
      outcome: 'pr',
      branch: 'gitops-deploy/promote/staging-to-production',
      pr: {number: 1, operation: 'created'}
    })
    expect(gl.mergeRequests).toHaveLength(1)
    const mr = gl.mergeRequests[0]
    expect(mr).toMatchObject({
      source_branch: 'gitops-deploy/promote/staging-to-production',
      target_branch: 'main',
      title: 'Promote staging to production: api, web, worker',
      reviewer_ids: [7]
    })
    expect(mr.description).toContain(
      '| web | `ghcr.io/acme/web` | `registry.acme.example/mirror/web:1.4.1` | `registry.acme.example/mirror/web:1.4.2` |'
    )
    if (hasKubectl)
      expect(mr.description).toContain('+      - image: registry.acme.example/mirror/web:1.4.2')
    const prod = await repo.readFile(
      'apps/web/overlays/production/kustomization.yaml',
      'gitops-deploy/promote/staging-to-production'
    )
    expect(prod).toContain(
      'newName: registry.acme.example/mirror/web   # production pulls from the mirror\n    newTag: 1.4.2'
    )
  })
})
