import {readFile, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {parseMarker} from '../../src/forge/pr-body.js'
import {GitHubDouble} from '../doubles/github-double.js'
import {GitLabDouble} from '../doubles/gitlab-double.js'
import {kustomization, projectRepo, type ProjectRepo} from '../helpers/git-fixtures.js'
import {cli} from '../helpers/cli.js'
import {startGitHttpServer, type GitHttpServer} from '../helpers/git-http-server.js'
import {TOKEN} from '../forge/helpers.js'
import {fakeToken} from '../helpers/fake-token.js'

const FILES = {
  'apps/web/overlays/dev/kustomization.yaml': kustomization('ghcr.io/acme/web', '1.0.0'),
  'apps/api/overlays/dev/kustomization.yaml': kustomization('ghcr.io/acme/api', '1.0.0')
}

describe('set-image --mode pr on GitHub (smart HTTP remote with token auth)', () => {
  let root: string
  let repo: ProjectRepo
  let server: GitHttpServer
  let gh: GitHubDouble
  let url: string

  beforeAll(async () => {
    repo = await projectRepo(FILES, {allowForcePush: true})
    root = repo.root
    server = await startGitHttpServer({
      root,
      credentials: [{user: 'x-access-token', password: TOKEN, access: 'write'}]
    })
    url = server.repoUrl('acme/config.git')
    gh = await GitHubDouble.start({
      token: TOKEN,
      repos: [
        {
          owner: 'acme',
          repo: 'config',
          gitDir: repo.dir,
          allowAutoMerge: true,
          collaborators: ['alice']
        }
      ]
    })
  })

  afterAll(async () => {
    await gh.close()
    await server.close()
    await rm(root, {recursive: true, force: true})
  })

  afterEach(() => {
    expect(gh.violations).toEqual([])
  })

  const env = {
    GITOPS_TOKEN: TOKEN,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/web'
  }
  const base = () => [
    'set-image',
    '--mode',
    'pr',
    '--repo',
    url,
    '--provider',
    'github',
    '--api-url',
    gh.apiUrl
  ]

  it('opens a PR, then updates nothing on a re-run, with outputs and --json', async () => {
    const dotenv = join(root, 'out.env')
    const args = [
      ...base(),
      '--path',
      'apps/web/overlays/dev',
      '--image',
      'ghcr.io/acme/web:1.1.0',
      '--labels',
      'deploy',
      '--reviewers',
      'alice',
      '--auto-merge',
      'squash'
    ]
    const first = await cli([...args, '--json', '--dotenv', dotenv], env)
    expect(first.stderr).not.toContain('error')
    expect(first.code).toBe(0)
    const json = JSON.parse(first.stdout)
    expect(json.pullRequest).toMatchObject({
      number: 1,
      url: `${gh.origin}/acme/config/pull/1`,
      operation: 'created'
    })
    expect(json.branch).toBe('gitops-deploy/main/apps/web/overlays/dev')
    expect(await readFile(dotenv, 'utf8')).toContain('GITOPS_PR_OPERATION=created')
    expect(await repo.readFile('apps/web/overlays/dev/kustomization.yaml', json.branch)).toContain(
      'newTag: 1.1.0 # bumped by CI'
    )
    expect(gh.pulls[0]).toMatchObject({
      labels: ['deploy'],
      requested_reviewers: ['alice'],
      auto_merge: {merge_method: 'squash'}
    })
    expect(parseMarker(gh.pulls[0].body)?.changes).toEqual([
      {
        file: 'apps/web/overlays/dev/kustomization.yaml',
        image: 'ghcr.io/acme/web',
        value: 'ghcr.io/acme/web:1.1.0'
      }
    ])

    const again = await cli([...args, '--json'], env)
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout).pullRequest).toMatchObject({number: 1, operation: 'unchanged'})
    const text = await cli(args, env)
    expect(text.stdout).toContain(`pull request unchanged: ${gh.origin}/acme/config/pull/1`)
    for (const out of [first, again, text]) expect(out.stdout + out.stderr).not.toContain(TOKEN)
    expect(gh.pulls).toHaveLength(1)
  })

  it('reports no-op when the base already pins the tag', async () => {
    const r = await cli(
      [...base(), '--path', 'apps/api/overlays/dev', '--image', 'ghcr.io/acme/api:1.0.0', '--json'],
      env
    )
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).pullRequest).toEqual({number: null, url: null, operation: 'no-op'})
    expect(gh.pulls.filter(p => p.head.includes('apps/api'))).toHaveLength(0)
  })

  it('a wrong token fails with the fix, prints no token, and leaves the remote alone', async () => {
    const wrong = fakeToken('ghp_', 'definitelyWrong')
    const before = await repo.git(['for-each-ref'])
    const r = await cli(
      [...base(), '--path', 'apps/api/overlays/dev', '--image', 'ghcr.io/acme/api:3.0.0'],
      {...env, GITOPS_TOKEN: wrong}
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/Bad credentials; set GITOPS_TOKEN to a valid token/)
    expect(r.stdout + r.stderr).not.toContain(wrong)
    expect(await repo.git(['for-each-ref'])).toBe(before)
  })

  it('rejects bad PR flags before touching anything (exit 2)', async () => {
    const img = ['--path', 'apps/web/overlays/dev', '--image', 'ghcr.io/acme/web:9.0.0']
    const cases: [string[], Record<string, string | undefined>, RegExp][] = [
      [['set-image', '--mode', 'pr', ...img], env, /--mode pr needs --repo/],
      [[...base(), ...img], {}, /needs an API token in GITOPS_TOKEN/],
      [
        [...base(), ...img, '--draft', '--auto-merge', 'merge'],
        env,
        /--draft and --auto-merge contradict/
      ],
      [[...base(), ...img, '--auto-merge', 'fast'], env, /--auto-merge 'fast' is not known/],
      [['set-image', '--mode', 'prr', ...img], env, /--mode 'prr' is not known/],
      [[...base(), ...img, '--pr-branch', 'deploy/{{app}}'], env, /unknown variable \{\{app\}\}/]
    ]
    for (const [args, e, message] of cases) {
      const r = await cli(args, e)
      expect(r.stderr).toMatch(message)
      expect(r.code).toBe(2)
    }
    expect(gh.pulls.filter(p => p.title.includes('9.0.0'))).toHaveLength(0)
  })
})

describe('set-image --mode pr on GitLab (file:// remote)', () => {
  let root: string
  let repo: ProjectRepo
  let gl: GitLabDouble

  beforeAll(async () => {
    repo = await projectRepo(FILES, {allowForcePush: true})
    root = repo.root
    gl = await GitLabDouble.start({
      token: TOKEN,
      projects: [{id: 3, path: 'acme/config', gitDir: repo.dir}],
      users: [{id: 11, username: 'carol'}]
    })
  })

  afterAll(async () => {
    await gl.close()
    await rm(root, {recursive: true, force: true})
  })

  it('opens an MR with a compare link, updates it for a new tag, and sets auto-merge', async () => {
    const env = {GITOPS_TOKEN: TOKEN, CI_PROJECT_URL: 'https://gitlab.example.com/acme/web'}
    const args = (tag: string) => [
      'set-image',
      '--mode',
      'pr',
      '--repo',
      repo.url,
      '--provider',
      'gitlab',
      '--api-url',
      gl.apiUrl,
      '--path',
      'apps/web/overlays/dev',
      '--image',
      `ghcr.io/acme/web:${tag}`,
      '--reviewers',
      'carol',
      '--auto-merge',
      'merge',
      '--json'
    ]
    const seed = await cli(args('main-1a2b3c4'), env)
    expect(seed.code).toBe(0)
    expect(JSON.parse(seed.stdout).pullRequest).toMatchObject({number: 1, operation: 'created'})
    // Merge it by hand, as a reviewer would, so the next deploy compares commit tags.
    await repo.git([
      'update-ref',
      'refs/heads/main',
      `refs/heads/${JSON.parse(seed.stdout).branch}`
    ])
    gl.mergeRequests[0].state = 'merged'

    const next = await cli(args('main-9f8e7d6'), env)
    expect(next.code).toBe(0)
    expect(JSON.parse(next.stdout).pullRequest).toMatchObject({number: 2, operation: 'created'})
    const mr = gl.mergeRequests[1]
    expect(mr.description).toContain(
      '([compare](https://gitlab.example.com/acme/web/-/compare/1a2b3c4...9f8e7d6))'
    )
    expect(mr).toMatchObject({reviewer_ids: [11], merge_when_pipeline_succeeds: true})
    expect(gl.violations).toEqual([])
  })
})
