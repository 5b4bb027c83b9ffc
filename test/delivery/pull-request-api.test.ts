import {dirname} from 'node:path'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {BRANCH_TRAILER} from '../../src/delivery/pull-request.js'
import {GitHubDouble} from '../doubles/github-double.js'
import {GitLabDouble, type GlProject} from '../doubles/gitlab-double.js'
import {startGitHttpServer, type GitHttpServer} from '../helpers/git-http-server.js'
import {
  APP_TOKEN,
  APPS,
  GITLAB_TOKEN,
  PAT,
  PLAIN_TOKEN,
  cli,
  configFiles,
  kfile,
  overlay,
  tagOf,
  transportRepo,
  type TransportRepo
} from './helpers.js'

/**
 * --mode pr with the API transport: the PR branch commit is made by the
 * forge (GitHub createCommitOnBranch, GitLab commits API with start_sha), so
 * no git runs at all. The config repo is served over smart HTTP too, and its
 * request log proves that: a git fetch or push would show up there.
 */

const BRANCH = `gitops-deploy/main/${overlay('web')}`
const BOT = 'github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>'

let repo: TransportRepo
let server: GitHttpServer

async function serve(files = configFiles()): Promise<void> {
  repo = await transportRepo(files)
  // Force pushes allowed, like an unprotected PR branch (the git fallback needs it).
  await repo.git(['config', 'receive.denyNonFastForwards', 'false'])
  server = await startGitHttpServer({
    root: dirname(dirname(repo.dir)),
    credentials: [
      {user: 'x-access-token', password: APP_TOKEN, access: 'write'},
      {user: 'x-access-token', password: GITLAB_TOKEN, access: 'write'}
    ]
  })
}

async function unserve(): Promise<void> {
  await server.close()
  await repo.fsck()
  await repo.dispose()
}

const url = () => server.repoUrl('acme/config.git')
const gitRequests = () => server.requests.filter(r => r.service || /git-/.test(r.path))

describe('set-image --mode pr over the GitHub API', () => {
  let gh: GitHubDouble

  beforeEach(async () => {
    await serve()
    gh = await GitHubDouble.start({
      token: APP_TOKEN,
      tokens: [PAT, PLAIN_TOKEN],
      repos: [{owner: 'acme', repo: 'config', gitDir: repo.dir, collaborators: ['alice']}]
    })
  })
  afterEach(async () => {
    expect(gh.violations).toEqual([])
    await gh.close()
    await unserve()
  })

  const run = (tag: string, extra: string[] = [], token = APP_TOKEN) =>
    cli(
      [
        'set-image',
        '--mode',
        'pr',
        '--repo',
        url(),
        '--provider',
        'github',
        '--api-url',
        gh.apiUrl,
        '--path',
        overlay('web'),
        '--image',
        `ghcr.io/acme/web:${tag}`,
        '--json',
        ...extra
      ],
      {GITOPS_TOKEN: token}
    )
  const graphql = () => gh.requests.filter(r => r.operationId === 'graphql')

  it('creates the branch and the PR through the API: a verified commit, and no git at all', async () => {
    const base = await repo.head()
    const r = await run('1.1.0', ['--reviewers', 'alice'])
    expect(r.stderr).not.toMatch(/error|warning/)
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({
      branch: BRANCH,
      pullRequest: {number: 1, operation: 'created'},
      transport: 'api',
      verified: true,
      verification: 'valid'
    })
    expect(out.transportReason).toMatch(/^auto: GitHub API at /)
    const [head] = await repo.log(BRANCH, 1)
    expect(head.sha).toBe(out.pullRequest.commit)
    expect(head.parents).toEqual([base])
    expect(head.author).toBe(BOT)
    expect(head.body).toContain(`${BRANCH_TRAILER}: ${BRANCH}`)
    expect(tagOf(await repo.readFile(kfile('web'), BRANCH))).toBe('1.1.0')
    expect(await repo.head()).toBe(base)
    // The branch was created at the base tip and committed on by the forge; git was never asked for anything.
    expect(gh.refUpdates).toEqual([{op: 'create', ref: `refs/heads/${BRANCH}`, sha: base}])
    expect(gitRequests()).toEqual([])
    expect(gh.pulls[0]).toMatchObject({state: 'open', head: BRANCH, base: 'main'})
    expect(gh.pulls[0].requested_reviewers).toEqual(['alice'])
    expect(r.stdout).not.toContain(APP_TOKEN)
  })

  it('re-running changes nothing: unchanged, no commit, no ref update', async () => {
    expect((await run('1.1.0', ['--reviewers', 'alice'])).code).toBe(0)
    const head = await repo.head(BRANCH)
    gh.requests.length = 0
    gh.refUpdates.length = 0
    const r = await run('1.1.0', ['--reviewers', 'alice'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({
      pullRequest: {number: 1, operation: 'unchanged', commit: head},
      transport: 'api'
    })
    expect(await repo.head(BRANCH)).toBe(head)
    expect(graphql()).toEqual([])
    expect(gh.refUpdates).toEqual([])
    // Reviewers are not asked again on an untouched PR.
    expect(gh.requests.some(q => q.operationId === 'pulls/request-reviewers')).toBe(false)
  })

  it('base moved: the same PR is updated to base tip + one commit and stays open (the head never passes through the base)', async () => {
    expect((await run('1.1.0')).code).toBe(0)
    const newBase = await repo.commit({'README.md': '# config, edited\n'}, 'docs edit')
    gh.refUpdates.length = 0
    const r = await run('1.1.0')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({
      pullRequest: {number: 1, operation: 'updated'},
      transport: 'api',
      verified: true
    })
    const [head] = await repo.log(BRANCH, 2)
    expect(head.parents).toEqual([newBase])
    expect(head.author).toBe(BOT)
    expect(await repo.readFile('README.md', BRANCH)).toBe('# config, edited\n')
    expect(tagOf(await repo.readFile(kfile('web'), BRANCH))).toBe('1.1.0')
    // GitHub closes a PR whose head has no commits beyond the base; this one never got there.
    expect(gh.autoClosed).toEqual([])
    expect(gh.pulls).toHaveLength(1)
    expect(gh.pulls[0].state).toBe('open')
    const moves = gh.refUpdates.filter(u => u.ref === `refs/heads/${BRANCH}`)
    expect(moves).toEqual([{op: 'update', ref: `refs/heads/${BRANCH}`, sha: head.sha, force: true}])
    // The scratch branch the commit was built on is gone again.
    const refs = (await repo.git(['for-each-ref', '--format=%(refname)', 'refs/heads'])).trim()
    expect(refs.split('\n').sort()).toEqual([`refs/heads/${BRANCH}`, 'refs/heads/main'])
    expect(gitRequests()).toEqual([])
  })

  it('a commit someone else pushed to the PR branch stops the run with the fix, and the branch is untouched', async () => {
    expect((await run('1.1.0')).code).toBe(0)
    const theirs = await repo.commit(
      {[kfile('api')]: (await repo.readFile(kfile('api'), BRANCH)).replace('1.0.0', '9.9.9')},
      'reviewer fix',
      BRANCH
    )
    gh.requests.length = 0
    const r = await run('1.2.0')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      new RegExp(
        `branch ${BRANCH} \\(PR #1\\) has 1 commit\\(s\\) gitops-deploy did not make: ${theirs.slice(0, 12)} "reviewer fix".*nothing was pushed.*delete the branch, or pick another --pr-branch`
      )
    )
    expect(await repo.head(BRANCH)).toBe(theirs)
    expect(graphql()).toEqual([])
    expect(gh.pulls[0].state).toBe('open')
  })

  it('a foreign push that lands while the commit is made is seen before the branch moves, and kept', async () => {
    expect((await run('1.1.0')).code).toBe(0)
    await repo.commit({'README.md': '# moved base\n'}, 'base moves')
    let theirs: string | undefined
    gh.beforeHandle = async (_method, path) => {
      if (theirs || path !== '/api/graphql') return
      // Between our compare and our ref update, a person pushes to the PR branch.
      theirs = await repo.commit({'notes.txt': 'mine\n'}, 'human on the PR branch', BRANCH)
    }
    const r = await run('1.1.0')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /has 1 commit\(s\) gitops-deploy did not make: .*"human on the PR branch"/
    )
    expect(await repo.head(BRANCH)).toBe(theirs)
    expect(gh.refUpdates.filter(u => u.op === 'update')).toEqual([])
  })

  it('--require-verified with a PAT in PR mode is refused before anything is written (exit 2)', async () => {
    const r = await run('1.1.0', ['--require-verified'], PAT)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /classic personal access token.*GITHUB_TOKEN.*GitHub App installation token/
    )
    expect(r.stderr).not.toContain(PAT)
    expect(await repo.head(BRANCH).catch(() => undefined)).toBeUndefined()
    expect(gh.pulls).toEqual([])
    expect(gh.refUpdates).toEqual([])
  })

  it('--require-verified with an unverified commit fails (exit 1) and opens no PR; a re-run with an App token replaces the commit', async () => {
    const r = await run('1.1.0', ['--require-verified'], PLAIN_TOKEN)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /did not verify it \(reason: unsigned\).*GITHUB_TOKEN.*The pull request was not created or updated/
    )
    expect(gh.pulls).toEqual([])
    const unsigned = await repo.head(BRANCH)
    const again = await run('1.1.0', ['--require-verified'])
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({
      pullRequest: {operation: 'created'},
      verified: true
    })
    expect(await repo.head(BRANCH)).not.toBe(unsigned)
  })

  it('falls back to git when GHES has no GraphQL (auto), leaving no half-made branch; --transport api is then exit 2', async () => {
    gh.graphqlSupport = 'none'
    const explicit = await run('1.1.0', ['--transport', 'api'])
    expect(explicit.code).toBe(2)
    expect(explicit.stderr).toMatch(/--transport api cannot be used: .*cannot create commits/)
    expect(await repo.head(BRANCH).catch(() => undefined)).toBeUndefined()
    expect(gh.pulls).toEqual([])

    const auto = await run('1.1.0')
    expect(auto.code).toBe(0)
    const out = JSON.parse(auto.stdout)
    expect(out).toMatchObject({pullRequest: {number: 1, operation: 'created'}, transport: 'git'})
    expect(out.transportReason).toMatch(/fell back to git because .*cannot create commits/)
    expect(auto.stderr).toMatch(/warning: transport: falling back to git/)
    const [head] = await repo.log(BRANCH, 1)
    expect(head.author).toBe('gitops-deploy <gitops-deploy@users.noreply.github.com>')
    expect(gitRequests().some(q => q.service === 'git-receive-pack')).toBe(true)
  })

  it('--transport git keeps the git push in PR mode', async () => {
    const r = await run('1.1.0', ['--transport', 'git'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({
      transport: 'git',
      transportReason: '--transport git',
      verified: null
    })
    expect(gitRequests().some(q => q.service === 'git-receive-pack')).toBe(true)
    expect(graphql()).toEqual([])
    // An update over smart HTTP: the shallow fetch (deepen-not) works against git http-backend too.
    const newBase = await repo.commit({'README.md': '# moved\n'}, 'base moves')
    const updated = await run('1.2.0', ['--transport', 'git'])
    expect(updated.code).toBe(0)
    expect(JSON.parse(updated.stdout)).toMatchObject({
      pullRequest: {number: 1, operation: 'updated'}
    })
    expect((await repo.log(BRANCH, 1))[0].parents).toEqual([newBase])
  })
})

describe('promote --mode pr over the GitHub API', () => {
  let gh: GitHubDouble

  beforeEach(async () => {
    const files = configFiles(APPS)
    files['.gitops-deploy.yaml'] =
      'environments:\n  - name: dev\n    path: apps/{app}/overlays/dev\n  - name: prod\n    path: apps/{app}/overlays/prod\n'
    files[kfile('web')] = files[kfile('web')]!.replace('1.0.0', '1.7.0')
    await serve(files)
    gh = await GitHubDouble.start({
      token: APP_TOKEN,
      repos: [{owner: 'acme', repo: 'config', gitDir: repo.dir}]
    })
  })
  afterEach(async () => {
    expect(gh.violations).toEqual([])
    await gh.close()
    await unserve()
  })

  const promote = (...extra: string[]) =>
    cli(
      [
        'promote',
        '--repo',
        url(),
        '--provider',
        'github',
        '--api-url',
        gh.apiUrl,
        '--from',
        'dev',
        '--next',
        '--mode',
        'pr',
        '--json',
        ...extra
      ],
      {GITOPS_TOKEN: APP_TOKEN}
    )

  it('commits the promotion PR through the API (config for --next read over the API too)', async () => {
    const r = await promote('--skip-render')
    expect(r.stderr).not.toMatch(/error|warning/)
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({
      outcome: 'pr',
      transport: 'api',
      verified: true,
      pr: {number: 1, operation: 'created'},
      branch: 'gitops-deploy/promote/dev-to-prod'
    })
    expect(tagOf(await repo.readFile(kfile('web', 'prod'), out.branch))).toBe('1.7.0')
    const [head] = await repo.log(out.branch, 1)
    expect(head.author).toBe(BOT)
    expect(head.subject).toBe('Promote dev to prod: web')
    expect(head.body).toContain(`${BRANCH_TRAILER}: ${out.branch}`)
    expect(gitRequests()).toEqual([])
    const again = JSON.parse((await promote('--skip-render')).stdout)
    expect(again).toMatchObject({pr: {number: 1, operation: 'unchanged'}, pushed: false})
  })

  it('auto stays with git while the PR shows a rendered diff; --transport api leaves the diff out with a note', async () => {
    const r = await promote()
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({transport: 'git', pr: {operation: 'created'}})
    expect(out.transportReason).toMatch(/rendered manifest diff .* needs a checkout/)
    expect(gitRequests().length).toBeGreaterThan(0)

    await repo.commit(
      {[kfile('api')]: configFiles()[kfile('api')]!.replace('1.0.0', '1.8.0')},
      'api 1.8.0'
    )
    server.requests.length = 0
    const api = await promote('--transport', 'api')
    expect(api.code).toBe(0)
    expect(JSON.parse(api.stdout)).toMatchObject({transport: 'api', pr: {operation: 'updated'}})
    expect(gh.pulls[0].body).toMatch(
      /committed through the API \(--transport api\); use --transport git/
    )
    expect(gitRequests()).toEqual([])
  })
})

describe('set-image --mode pr over the GitLab API', () => {
  let gl: GitLabDouble
  const project: GlProject = {id: 42, path: 'acme/config', gitDir: ''}

  beforeAll(async () => {
    gl = await GitLabDouble.start({projects: [project], token: GITLAB_TOKEN})
  })
  afterAll(async () => {
    await gl.close()
  })
  beforeEach(async () => {
    await serve()
    project.gitDir = repo.dir
    gl.mergeRequests.length = 0
    gl.requests.length = 0
  })
  afterEach(async () => {
    expect(gl.violations).toEqual([])
    await unserve()
  })

  const run = (tag: string, extra: string[] = []) =>
    cli(
      [
        'set-image',
        '--mode',
        'pr',
        '--repo',
        url(),
        '--provider',
        'gitlab',
        '--api-url',
        gl.apiUrl,
        '--path',
        overlay('web'),
        '--image',
        `ghcr.io/acme/web:${tag}`,
        '--author',
        'Deploy Bot <deploy@example.com>',
        '--json',
        ...extra
      ],
      {GITOPS_TOKEN: GITLAB_TOKEN}
    )
  const commitPosts = () =>
    gl.requests.filter(q => q.method === 'POST' && q.path.includes('/repository/commits'))

  it('creates, keeps and updates one MR with commits the commits API makes (start_sha, force)', async () => {
    const base = await repo.head()
    const first = await run('1.1.0')
    expect(first.stderr).not.toMatch(/error|warning/)
    expect(first.code).toBe(0)
    expect(JSON.parse(first.stdout)).toMatchObject({
      pullRequest: {number: 1, operation: 'created'},
      transport: 'api',
      verified: null
    })
    let [head] = await repo.log(BRANCH, 1)
    expect(head.parents).toEqual([base])
    expect(head.author).toBe('Deploy Bot <deploy@example.com>')
    expect(head.body).toContain(`${BRANCH_TRAILER}: ${BRANCH}`)
    // One request made the branch and its commit: start_sha, no force (the branch must not exist).
    expect(commitPosts().map(q => q.body)).toEqual([
      expect.objectContaining({branch: BRANCH, start_sha: base})
    ])
    expect(commitPosts()[0].body).not.toHaveProperty('force')

    gl.requests.length = 0
    const again = await run('1.1.0')
    expect(JSON.parse(again.stdout)).toMatchObject({pullRequest: {operation: 'unchanged'}})
    expect(commitPosts()).toEqual([])

    const newBase = await repo.commit({'README.md': '# moved\n'}, 'base moves')
    const moved = await run('1.2.0')
    expect(moved.code).toBe(0)
    expect(JSON.parse(moved.stdout)).toMatchObject({
      pullRequest: {number: 1, operation: 'updated'},
      transport: 'api'
    })
    ;[head] = await repo.log(BRANCH, 1)
    expect(head.parents).toEqual([newBase])
    expect(tagOf(await repo.readFile(kfile('web'), BRANCH))).toBe('1.2.0')
    expect(commitPosts().at(-1)!.body).toMatchObject({start_sha: newBase, force: true})
    expect(gl.mergeRequests).toHaveLength(1)
    expect(gitRequests()).toEqual([])
  })

  it('a foreign commit on the MR branch stops the run and the branch is untouched', async () => {
    expect((await run('1.1.0')).code).toBe(0)
    const theirs = await repo.commit({'notes.txt': 'x\n'}, 'hand edit', BRANCH)
    gl.requests.length = 0
    const r = await run('1.2.0')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /\(PR #1\) has 1 commit\(s\) gitops-deploy did not make: .*"hand edit"/
    )
    expect(await repo.head(BRANCH)).toBe(theirs)
    expect(commitPosts()).toEqual([])
  })

  it('--require-verified fails (exit 1) since GitLab does not sign API commits, and opens no MR', async () => {
    const r = await run('1.1.0', ['--require-verified'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/GitLab reports no verified signature .*not created or updated/)
    expect(gl.mergeRequests).toEqual([])
  })
})
