import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {Redactor} from '../../src/core/redact.js'
import {GitHubForge} from '../../src/forge/github/pulls.js'
import {parseMarker} from '../../src/forge/pr-body.js'
import {
  BRANCH_TRAILER,
  runPrLifecycle,
  type PrLifecycleInput
} from '../../src/delivery/pull-request.js'
import {GitHubDouble, primaryRateLimit, secondaryRateLimit} from '../doubles/github-double.js'
import type {BareRepo} from '../helpers/git-fixtures.js'
import {IDENTITY, TOKEN, configRepo, memoryLog, setTag} from '../forge/helpers.js'
import {fakeToken} from '../helpers/fake-token.js'

let repo: BareRepo
let gh: GitHubDouble

beforeEach(async () => {
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
})

afterEach(async () => {
  // Every request the code made must be one GitHub accepts.
  expect(gh.violations).toEqual([])
  await gh.close()
  await repo.cleanup()
})

function forge(token = TOKEN, log = memoryLog().log) {
  return new GitHubForge({apiUrl: gh.apiUrl, repoPath: 'acme/config', token, log, msPerSecond: 5})
}

function input(overrides: Partial<PrLifecycleInput> = {}): PrLifecycleInput {
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

describe('PR lifecycle against the GitHub double', () => {
  it('creates a branch on the base tip and a PR with labels, reviewers, assignees and a marker', async () => {
    const baseTip = await repo.head()
    const result = await runPrLifecycle(
      input({
        labels: ['deploy', 'dev'],
        reviewers: ['alice'],
        teamReviewers: ['sre'],
        assignees: ['bob']
      })
    )
    expect(result.operation).toBe('created')
    if (result.operation === 'no-op') throw new Error('unreachable')
    expect(result.branch).toBe('gitops-deploy/main/apps/web/overlays/dev')
    expect(result.pullRequest.number).toBe(1)
    expect(result.pullRequest.url).toBe(`${gh.origin}/acme/config/pull/1`)

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

    const pull = gh.pulls[0]
    expect(pull).toMatchObject({
      head: result.branch,
      base: 'main',
      labels: ['deploy', 'dev'],
      requested_reviewers: ['alice'],
      requested_teams: ['sre'],
      assignees: ['bob']
    })
    expect(pull.title).toBe('Deploy ghcr.io/acme/web:1.1.0 to apps/web/overlays/dev')
    expect(pull.body).toContain(
      '| `apps/web/overlays/dev/kustomization.yaml` | `ghcr.io/acme/web` | `1.0.0` → `1.1.0` |'
    )
    expect(parseMarker(pull.body)).toMatchObject({branch: result.branch, base: 'main', count: 1})
    // No token on the wire except in the Authorization header.
    expect(gh.requests.every(r => r.authorization === `token ${TOKEN}`)).toBe(true)
  })

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

  it('two apps deployed at once get two PRs', async () => {
    const [web, api] = await Promise.all([
      runPrLifecycle(input()),
      runPrLifecycle(
        input({
          paths: ['apps/api/overlays/dev'],
          edit: setTag('apps/api/overlays/dev', 'ghcr.io/acme/api', '2.0.0')
        })
      )
    ])
    expect([web.operation, api.operation]).toEqual(['created', 'created'])
    expect(gh.pulls.map(p => p.head).sort()).toEqual([
      'gitops-deploy/main/apps/api/overlays/dev',
      'gitops-deploy/main/apps/web/overlays/dev'
    ])
  })

  it('a run that failed while decorating is completed by the next, unchanged run', async () => {
    const decorated = input({
      labels: ['deploy', 'dev'],
      reviewers: ['alice'],
      teamReviewers: ['sre'],
      assignees: ['bob']
    })
    gh.inject({
      method: 'POST',
      path: /\/issues\/1\/labels$/,
      status: 403,
      body: {
        message: 'Resource not accessible by integration',
        documentation_url: 'https://docs.github.com/rest/issues/labels#add-labels-to-an-issue',
        status: '403'
      }
    })
    await expect(runPrLifecycle(decorated)).rejects.toThrow(/add labels to #1.*HTTP 403/)
    expect(gh.pulls[0]).toMatchObject({labels: [], requested_reviewers: [], assignees: []})

    const again = await runPrLifecycle({...decorated, forge: forge()})
    expect(again.operation).toBe('unchanged')
    expect(gh.pulls).toHaveLength(1)
    expect(gh.pulls[0]).toMatchObject({
      labels: ['deploy', 'dev'],
      requested_reviewers: ['alice'],
      requested_teams: ['sre'],
      assignees: ['bob']
    })
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

  it('reuses a branch left without a PR by a half-failed run', async () => {
    gh.inject({
      method: 'POST',
      path: /\/pulls$/,
      status: 502,
      body: {message: 'Server Error'},
      times: 10
    })
    await expect(runPrLifecycle(input())).rejects.toThrow(
      /GitHub could not open a pull request.*HTTP 502/
    )
    const branchTip = await repo.head('gitops-deploy/main/apps/web/overlays/dev')
    expect(gh.pulls).toHaveLength(0)

    gh.clearFailures()
    const result = await runPrLifecycle(input())
    expect(result.operation).toBe('created')
    if (result.operation === 'no-op') throw new Error('unreachable')
    expect(result.pushed).toBe(false)
    expect(result.commit).toBe(branchTip)
    expect(gh.pulls).toHaveLength(1)
  })

  it('stops instead of discarding a commit someone else pushed to the PR branch', async () => {
    const first = await runPrLifecycle(input())
    if (first.operation === 'no-op') throw new Error('unreachable')
    const human = await repo.commit(
      {'apps/web/overlays/dev/extra.yaml': 'x: 1\n'},
      'tweak replicas',
      first.branch
    )
    await expect(
      runPrLifecycle(input({edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '1.3.0')}))
    ).rejects.toThrow(
      /has 1 commit\(s\) gitops-deploy did not make: .*"tweak replicas" by Fixture.*nothing was pushed/
    )
    expect(await repo.head(first.branch)).toBe(human)
    expect(gh.pulls[0].title).toContain('1.1.0')
  })

  it('reports no-op and opens nothing when the base already has the change', async () => {
    const result = await runPrLifecycle(
      input({edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '1.0.0')})
    )
    expect(result).toMatchObject({
      operation: 'no-op',
      base: 'main',
      branch: 'gitops-deploy/main/apps/web/overlays/dev'
    })
    expect(gh.pulls).toHaveLength(0)
    expect(await repo.git(['branch', '--list'])).not.toContain('gitops-deploy/')
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
