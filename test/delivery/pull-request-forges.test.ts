import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {Redactor} from '../../src/core/redact.js'
import type {Forge} from '../../src/forge/forge.js'
import {GitHubForge} from '../../src/forge/github/pulls.js'
import {GitLabForge} from '../../src/forge/gitlab/pulls.js'
import {parseMarker} from '../../src/forge/pr-body.js'
import {
  BRANCH_TRAILER,
  runPrLifecycle,
  type PrLifecycleInput
} from '../../src/delivery/pull-request.js'
import {GitHubDouble, primaryRateLimit, secondaryRateLimit} from '../doubles/github-double.js'
import {GitLabDouble} from '../doubles/gitlab-double.js'
import type {BareRepo} from '../helpers/git-fixtures.js'
import {IDENTITY, TOKEN, configRepo, memoryLog, setTag} from '../forge/helpers.js'
import {fakeToken} from '../helpers/fake-token.js'

/**
 * The PR/MR lifecycle (runPrLifecycle) against both forge doubles, which
 * validate every request. Cases both forges share run once per forge
 * (describe.each); what only one forge has (teams, GraphQL auto-merge,
 * secondary rate limits; user ids, Draft: titles, 409) is in its own describe.
 */

type Log = PrLifecycleInput['log']

/** One forge double over a fresh config repo, and what the shared cases need to know of it. */
interface ForgeUnderTest {
  name: 'GitHub' | 'GitLab'
  start(): Promise<void>
  stop(): Promise<void>
  repo(): BareRepo
  forge(token?: string, log?: Log): Forge
  input(overrides?: Partial<PrLifecycleInput>): PrLifecycleInput
  /** The PRs/MRs as the double keeps them, in a shape both share. */
  prs(): {head: string; base: string; title: string; body: string}[]
  /** The double's own record of the i-th PR/MR. */
  raw(i: number): object
  prUrl(n: number): string
  /** Every request carried the token in its auth header (and nowhere else). */
  authInHeaderOnly(): boolean
  /** Requests that write (anything but GET). */
  writes(): number
  clearFailures(): void
  /** Labels, reviewers and assignees asked for, and the record they make. */
  decoration: Partial<PrLifecycleInput>
  created(branch: string): object
  undecorated: object
  /** Makes the first decoration request fail with 403; the error it gives. */
  failDecoration(): void
  decorationError: RegExp
  /** Makes opening the PR/MR fail with a server error; the error it gives. */
  failCreate(): void
  createError: RegExp
}

function inputFor(repo: BareRepo, forge: (token?: string, log?: Log) => Forge) {
  return (overrides: Partial<PrLifecycleInput> = {}): PrLifecycleInput => {
    const logged = memoryLog()
    return {
      repoUrl: repo.url,
      forge: forge(TOKEN, logged.log),
      paths: ['apps/web/overlays/dev'],
      identity: IDENTITY,
      edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '1.1.0'),
      log: logged.log,
      ...overrides
    }
  }
}

function github(): ForgeUnderTest & {gh(): GitHubDouble} {
  let repo: BareRepo
  let gh: GitHubDouble
  const forge = (token = TOKEN, log = memoryLog().log) =>
    new GitHubForge({apiUrl: gh.apiUrl, repoPath: 'acme/config', token, log, msPerSecond: 5})
  const decorated = {
    labels: ['deploy', 'dev'],
    requested_reviewers: ['alice'],
    requested_teams: ['sre'],
    assignees: ['bob']
  }
  return {
    name: 'GitHub',
    async start() {
      repo = await configRepo()
      gh = await GitHubDouble.start({
        token: TOKEN,
        repos: [
          {
            owner: 'acme',
            repo: 'config',
            gitDir: repo.dir,
            allowAutoMerge: true,
            collaborators: ['alice', 'bob'],
            teams: ['sre']
          }
        ]
      })
    },
    async stop() {
      // Every request the code made must be one GitHub accepts.
      expect(gh.violations).toEqual([])
      await gh.close()
      await repo.cleanup()
    },
    repo: () => repo,
    gh: () => gh,
    forge,
    input: overrides => inputFor(repo, forge)(overrides),
    prs: () => gh.pulls,
    raw: i => gh.pulls[i],
    prUrl: n => `${gh.origin}/acme/config/pull/${n}`,
    // No token on the wire except in the Authorization header.
    authInHeaderOnly: () => gh.requests.every(r => r.authorization === `token ${TOKEN}`),
    writes: () => gh.requests.filter(r => r.method !== 'GET').length,
    clearFailures: () => gh.clearFailures(),
    decoration: {
      labels: ['deploy', 'dev'],
      reviewers: ['alice'],
      teamReviewers: ['sre'],
      assignees: ['bob']
    },
    created: branch => ({head: branch, base: 'main', ...decorated}),
    undecorated: {labels: [], requested_reviewers: [], assignees: []},
    failDecoration: () =>
      gh.inject({
        method: 'POST',
        path: /\/issues\/1\/labels$/,
        status: 403,
        body: {
          message: 'Resource not accessible by integration',
          documentation_url: 'https://docs.github.com/rest/issues/labels#add-labels-to-an-issue',
          status: '403'
        }
      }),
    decorationError: /add labels to #1.*HTTP 403/,
    failCreate: () =>
      gh.inject({
        method: 'POST',
        path: /\/pulls$/,
        status: 502,
        body: {message: 'Server Error'},
        times: 10
      }),
    createError: /GitHub could not open a pull request.*HTTP 502/
  }
}

function gitlab(): ForgeUnderTest & {gl(): GitLabDouble} {
  let repo: BareRepo
  let gl: GitLabDouble
  const forge = (token = TOKEN, log = memoryLog().log) =>
    new GitLabForge({apiUrl: gl.apiUrl, repoPath: 'acme/platform/config', token, log})
  return {
    name: 'GitLab',
    async start() {
      repo = await configRepo()
      gl = await GitLabDouble.start({
        token: TOKEN,
        projects: [{id: 42, path: 'acme/platform/config', gitDir: repo.dir}],
        users: [
          {id: 7, username: 'alice'},
          {id: 8, username: 'bob'}
        ]
      })
    },
    async stop() {
      expect(gl.violations).toEqual([])
      await gl.close()
      await repo.cleanup()
    },
    repo: () => repo,
    gl: () => gl,
    forge,
    input: overrides => inputFor(repo, forge)(overrides),
    prs: () =>
      gl.mergeRequests.map(m => ({
        head: m.source_branch,
        base: m.target_branch,
        title: m.title,
        body: m.description
      })),
    raw: i => gl.mergeRequests[i],
    prUrl: n => `${gl.origin}/acme/platform/config/-/merge_requests/${n}`,
    authInHeaderOnly: () => gl.requests.every(r => r.auth === TOKEN),
    writes: () => gl.requests.filter(r => r.method !== 'GET').length,
    clearFailures: () => gl.clearFailures(),
    decoration: {labels: ['deploy'], reviewers: ['alice'], assignees: ['@bob']},
    created: branch => ({
      iid: 1,
      source_branch: branch,
      target_branch: 'main',
      labels: ['deploy'],
      reviewer_ids: [7],
      assignee_ids: [8]
    }),
    undecorated: {labels: [], reviewer_ids: [], assignee_ids: []},
    failDecoration: () =>
      gl.inject({
        method: 'PUT',
        path: /\/merge_requests\/1$/,
        status: 403,
        body: {message: '403 Forbidden'}
      }),
    decorationError: /403/,
    failCreate: () =>
      gl.inject({
        method: 'POST',
        path: /merge_requests$/,
        status: 500,
        body: {message: '500 Internal Server Error'}
      }),
    createError: /GitLab could not open a merge request.*HTTP 500/
  }
}

describe.each([
  ['GitHub', github()],
  ['GitLab', gitlab()]
] as const)('PR lifecycle against the %s double', (_, f) => {
  beforeEach(() => f.start())
  afterEach(() => f.stop())

  it('creates a branch on the base tip and a PR with labels, reviewers, assignees and a marker', async () => {
    const repo = f.repo()
    const baseTip = await repo.head()
    const result = await runPrLifecycle(f.input(f.decoration))
    expect(result.operation).toBe('created')
    if (result.operation === 'no-op') throw new Error('unreachable')
    expect(result.branch).toBe('gitops-deploy/main/apps/web/overlays/dev')
    expect(result.pullRequest.number).toBe(1)
    expect(result.pullRequest.url).toBe(f.prUrl(1))

    const [commit] = await repo.log(result.branch, 1)
    expect(commit.sha).toBe(result.commit)
    expect(commit.parents).toEqual([baseTip])
    expect(commit.body).toContain(`${BRANCH_TRAILER}: ${result.branch}`)
    expect(
      await repo.readFile('apps/web/overlays/dev/kustomization.yaml', result.branch)
    ).toContain('newTag: 1.1.0 # bumped by CI')
    expect(await repo.readFile('apps/web/overlays/dev/kustomization.yaml')).toContain(
      'newTag: 1.0.0'
    )

    // Labels, reviewers and assignees as the forge records them (GitLab: resolved to user ids).
    expect(f.raw(0)).toMatchObject(f.created(result.branch))
    const [pull] = f.prs()
    expect(pull.title).toBe('Deploy ghcr.io/acme/web:1.1.0 to apps/web/overlays/dev')
    expect(pull.body).toContain(
      '| `apps/web/overlays/dev/kustomization.yaml` | `ghcr.io/acme/web` | `1.0.0` → `1.1.0` |'
    )
    expect(parseMarker(pull.body)).toMatchObject({branch: result.branch, base: 'main', count: 1})
    expect(f.authInHeaderOnly()).toBe(true)
  })

  it('two apps deployed at once get two PRs', async () => {
    const [web, api] = await Promise.all([
      runPrLifecycle(f.input()),
      runPrLifecycle(
        f.input({
          paths: ['apps/api/overlays/dev'],
          edit: setTag('apps/api/overlays/dev', 'ghcr.io/acme/api', '2.0.0')
        })
      )
    ])
    expect([web.operation, api.operation]).toEqual(['created', 'created'])
    expect(f.prs()).toHaveLength(2)
    expect(
      f
        .prs()
        .map(p => p.head)
        .sort()
    ).toEqual([
      'gitops-deploy/main/apps/api/overlays/dev',
      'gitops-deploy/main/apps/web/overlays/dev'
    ])
  })

  it('a run that failed while decorating is completed by the next, unchanged run', async () => {
    const decorated = () => f.input(f.decoration)
    f.failDecoration()
    await expect(runPrLifecycle(decorated())).rejects.toThrow(f.decorationError)
    expect(f.raw(0)).toMatchObject(f.undecorated)

    expect((await runPrLifecycle(decorated())).operation).toBe('unchanged')
    expect(f.prs()).toHaveLength(1)
    expect(f.raw(0)).toMatchObject(f.created(f.prs()[0].head))
    // A third run finds everything in place and writes nothing.
    const before = f.writes()
    expect((await runPrLifecycle(decorated())).operation).toBe('unchanged')
    expect(f.writes()).toBe(before)
  })

  it('reuses a branch left without a PR by a half-failed run', async () => {
    f.failCreate()
    await expect(runPrLifecycle(f.input())).rejects.toThrow(f.createError)
    const branchTip = await f.repo().head('gitops-deploy/main/apps/web/overlays/dev')
    expect(f.prs()).toHaveLength(0)

    f.clearFailures()
    const result = await runPrLifecycle(f.input())
    expect(result.operation).toBe('created')
    if (result.operation === 'no-op') throw new Error('unreachable')
    expect(result.pushed).toBe(false)
    expect(result.commit).toBe(branchTip)
    expect(f.prs()).toHaveLength(1)
  })

  it('stops instead of discarding a commit someone else pushed to the PR branch', async () => {
    const repo = f.repo()
    const first = await runPrLifecycle(f.input())
    if (first.operation === 'no-op') throw new Error('unreachable')
    const human = await repo.commit(
      {'apps/web/overlays/dev/extra.yaml': 'x: 1\n'},
      'tweak replicas',
      first.branch
    )
    const error = runPrLifecycle(
      f.input({edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '1.3.0')})
    )
    await expect(error).rejects.toThrow(
      /has 1 commit\(s\) gitops-deploy did not make: .*"tweak replicas" by Fixture.*nothing was pushed/
    )
    await expect(error).rejects.toThrow(/\(PR #1\) has 1 commit\(s\) gitops-deploy did not make/)
    expect(await repo.head(first.branch)).toBe(human)
    expect(f.prs()[0].title).toContain('1.1.0')
  })

  it('reports no-op and opens nothing when the base already has the change', async () => {
    const result = await runPrLifecycle(
      f.input({edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '1.0.0')})
    )
    expect(result).toMatchObject({
      operation: 'no-op',
      base: 'main',
      branch: 'gitops-deploy/main/apps/web/overlays/dev'
    })
    expect(f.prs()).toHaveLength(0)
    expect(await f.repo().git(['branch', '--list'])).not.toContain('gitops-deploy/')
  })
})

describe('PR lifecycle against the GitHub double: what only GitHub has', () => {
  const h = github()
  let repo: BareRepo
  let gh: GitHubDouble
  const forge = h.forge
  const input = h.input
  beforeEach(async () => {
    await h.start()
    repo = h.repo()
    gh = h.gh()
  })
  afterEach(() => h.stop())

  it('re-running the same deploy leaves the PR alone; a new tag or a moved base updates the same PR', async () => {
    const first = await runPrLifecycle(input())
    const again = await runPrLifecycle(input())
    expect(again.operation).toBe('unchanged')
    if (again.operation === 'no-op' || first.operation === 'no-op') throw new Error('unreachable')
    expect(again.pushed).toBe(false)
    expect(again.commit).toBe(first.commit)
    expect(again.pullRequest.number).toBe(first.pullRequest.number)

    // Someone merges other work to main: the branch is rebuilt on the new tip.
    const moved = await repo.commit({'README.md': 'hello\n'}, 'unrelated change')
    const rebuilt = await runPrLifecycle(
      input({edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '1.2.0')})
    )
    expect(rebuilt.operation).toBe('updated')
    if (rebuilt.operation === 'no-op') throw new Error('unreachable')
    const [commit] = await repo.log(rebuilt.branch, 1)
    expect(commit.parents).toEqual([moved])
    expect(gh.pulls).toHaveLength(1)
    expect(gh.pulls[0].title).toContain('1.2.0')
    expect(gh.pulls[0].body).toContain('`1.0.0` → `1.2.0`')
  })

  it('re-runs ask no one twice: pending and already-given reviews are left alone', async () => {
    const decorated = () =>
      input({labels: ['deploy'], reviewers: ['alice', 'bob'], assignees: ['bob']})
    expect((await runPrLifecycle(decorated())).operation).toBe('created')
    const asks = () => gh.requests.filter(r => /\/requested_reviewers$/.test(r.path))
    const writes = () => gh.requests.filter(r => r.method !== 'GET')
    expect(asks()).toHaveLength(1)
    // bob reviews (GitHub drops his pending request); alice's stays pending.
    gh.submitReview(gh.pulls[0], 'bob', 'APPROVED')
    const before = writes().length

    expect((await runPrLifecycle(decorated())).operation).toBe('unchanged')
    expect(asks()).toHaveLength(1)
    expect(writes()).toHaveLength(before)
    expect(gh.pulls[0].requested_reviewers).toEqual(['alice'])

    // New content is worth a fresh look: bob is asked again, alice (still pending) is not.
    const updated = await runPrLifecycle({
      ...decorated(),
      edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '1.2.0')
    })
    expect(updated.operation).toBe('updated')
    expect(asks()).toHaveLength(2)
    expect(asks()[1].body).toEqual({reviewers: ['bob']})
  })

  it('enables native auto-merge through GraphQL, and explains a repository that forbids it', async () => {
    const result = await runPrLifecycle(input({autoMerge: 'squash'}))
    expect(result.operation).toBe('created')
    expect(gh.pulls[0].auto_merge).toEqual({merge_method: 'squash'})
    expect(gh.requests.some(r => r.path === '/api/graphql')).toBe(true)

    const other = await GitHubDouble.start({
      token: TOKEN,
      repos: [{owner: 'acme', repo: 'config', gitDir: repo.dir, allowAutoMerge: false}]
    })
    try {
      const f = new GitHubForge({
        apiUrl: other.apiUrl,
        repoPath: 'acme/config',
        token: TOKEN,
        log: memoryLog().log,
        msPerSecond: 5
      })
      await expect(
        runPrLifecycle(
          input({
            forge: f,
            autoMerge: 'merge',
            paths: ['apps/api/overlays/dev'],
            edit: setTag('apps/api/overlays/dev', 'ghcr.io/acme/api', '2.0.0')
          })
        )
      ).rejects.toThrow(/Auto merge is not allowed.*enable "Allow auto-merge"/)
      expect(other.violations).toEqual([])
    } finally {
      await other.close()
    }
  })

  it('waits out a secondary rate limit and a 429, then succeeds', async () => {
    gh.inject({method: 'POST', path: /\/pulls$/, ...secondaryRateLimit(1)})
    gh.inject({method: 'GET', path: /\/pulls$/, ...primaryRateLimit(1)})
    const logged = memoryLog()
    const result = await runPrLifecycle(input({forge: forge(TOKEN, logged.log), log: logged.log}))
    expect(result.operation).toBe('created')
    const statuses = gh.requests
      .filter(r => /\/pulls(\?|$)/.test(r.path))
      .map(r => `${r.method} ${r.status}`)
    expect(statuses).toEqual(['GET 429', 'GET 200', 'POST 403', 'POST 201'])
    expect(logged.lines.filter(l => l.includes('rate limit'))).toHaveLength(2)
  })

  it('gives up on a rate limit that does not end, with the cause in the error', async () => {
    gh.inject({method: 'GET', path: /\/pulls$/, ...secondaryRateLimit(1), times: 10})
    await expect(runPrLifecycle(input())).rejects.toThrow(/secondary rate limit/)
    expect(gh.pulls).toHaveLength(0)
  })

  it('takes over the PR a concurrent run opened between lookup and create (422 already exists)', async () => {
    gh.beforeHandle = (method, path) => {
      if (method === 'POST' && path.endsWith('/pulls') && gh.pulls.length === 0) {
        gh.openPull({
          owner: 'acme',
          repo: 'config',
          head: 'gitops-deploy/main/apps/web/overlays/dev',
          base: 'main',
          title: 'from the other run'
        })
      }
    }
    const result = await runPrLifecycle(input())
    expect(result.operation).toBe('updated')
    expect(gh.pulls).toHaveLength(1)
    expect(gh.pulls[0].title).toContain('1.1.0')
    expect(gh.requests.some(r => r.method === 'POST' && r.status === 422)).toBe(true)
  })

  it('a wrong token fails before anything is pushed and is never printed', async () => {
    const wrong = fakeToken('ghp_', 'wrongToken')
    const redactor = new Redactor()
    redactor.add(wrong)
    const before = await repo.git(['for-each-ref'])
    const error = await runPrLifecycle(input({forge: forge(wrong), redactor})).catch(
      e => e as Error
    )
    expect(String(error)).toMatch(/HTTP 401 Bad credentials; set GITOPS_TOKEN to a valid token/)
    expect(String(error)).not.toContain(wrong)
    expect(await repo.git(['for-each-ref'])).toBe(before)
  })
})

describe('MR lifecycle against the GitLab double: what only GitLab has', () => {
  const h = gitlab()
  let gl: GitLabDouble
  const input = h.input
  beforeEach(async () => {
    await h.start()
    gl = h.gl()
  })
  afterEach(() => h.stop())

  it('re-runs update the same MR, keeping reviewers a human added', async () => {
    const first = await runPrLifecycle(input({reviewers: ['alice']}))
    if (first.operation === 'no-op') throw new Error('unreachable')
    gl.mergeRequests[0].reviewer_ids.push(8)
    expect((await runPrLifecycle(input({reviewers: ['alice']}))).operation).toBe('unchanged')
    const second = await runPrLifecycle(
      input({
        reviewers: ['alice'],
        edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '1.2.0')
      })
    )
    expect(second.operation).toBe('updated')
    expect(gl.mergeRequests).toHaveLength(1)
    expect(gl.mergeRequests[0].title).toContain('1.2.0')
    expect(gl.mergeRequests[0].reviewer_ids.sort()).toEqual([7, 8])
  })

  it('draft MRs carry the Draft: prefix and stay drafts on update', async () => {
    await runPrLifecycle(input({draft: true}))
    expect(gl.mergeRequests[0].title).toMatch(/^Draft: Deploy/)
    await runPrLifecycle(
      input({draft: true, edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '1.2.0')})
    )
    expect(gl.mergeRequests[0].title).toMatch(/^Draft: Deploy ghcr.io\/acme\/web:1.2.0/)
  })

  it('sets merge-when-pipeline-succeeds for --auto-merge squash', async () => {
    await runPrLifecycle(input({autoMerge: 'squash'}))
    expect(gl.mergeRequests[0]).toMatchObject({
      merge_when_pipeline_succeeds: true,
      squash: true,
      state: 'opened'
    })
  })

  it('two apps at once give two MRs; a 409 from a concurrent create is taken over', async () => {
    const [a, b] = await Promise.all([
      runPrLifecycle(input()),
      runPrLifecycle(
        input({
          paths: ['apps/api/overlays/dev'],
          edit: setTag('apps/api/overlays/dev', 'ghcr.io/acme/api', '2.0.0')
        })
      )
    ])
    expect([a.operation, b.operation]).toEqual(['created', 'created'])
    expect(gl.mergeRequests).toHaveLength(2)

    gl.beforeHandle = (method, path) => {
      if (method === 'POST' && path.endsWith('/merge_requests') && gl.mergeRequests.length === 2) {
        gl.openMergeRequest({
          projectId: 42,
          source_branch: 'gitops-deploy/main/apps/web/overlays/prod',
          target_branch: 'main'
        })
      }
    }
    const raced = await runPrLifecycle(
      input({
        paths: ['apps/web/overlays/prod'],
        edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '9.9.9')
      })
    )
    expect(raced.operation).toBe('updated')
    expect(gl.requests.some(r => r.method === 'POST' && r.status === 409)).toBe(true)
    expect(gl.mergeRequests).toHaveLength(3)
    expect(gl.mergeRequests[2].title).toContain('9.9.9')
  })

  it('no-op when main already has the tag; rate limits are retried; unknown users and team reviewers are explained', async () => {
    expect(
      (
        await runPrLifecycle(
          input({edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '1.0.0')})
        )
      ).operation
    ).toBe('no-op')
    expect(gl.mergeRequests).toHaveLength(0)

    gl.inject({
      method: 'GET',
      path: /merge_requests$/,
      status: 429,
      body: {message: 'Retry later'},
      headers: {'retry-after': '1'}
    })
    expect((await runPrLifecycle(input())).operation).toBe('created')
    expect(
      gl.requests
        .filter(r => r.method === 'GET' && /merge_requests\?/.test(r.path))
        .map(r => r.status)
        .slice(1, 3)
    ).toEqual([429, 200])

    await expect(
      runPrLifecycle(
        input({
          reviewers: ['mallory'],
          edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '1.4.0')
        })
      )
    ).rejects.toThrow(/GitLab has no user 'mallory'/)
    await expect(runPrLifecycle(input({teamReviewers: ['sre']}))).rejects.toThrow(
      /GitLab has no team reviewers/
    )
  })
})
