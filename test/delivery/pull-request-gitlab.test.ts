import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {GitLabForge} from '../../src/forge/gitlab/pulls.js'
import {parseMarker} from '../../src/forge/pr-body.js'
import {runPrLifecycle, type PrLifecycleInput} from '../../src/delivery/pull-request.js'
import {GitLabDouble} from '../doubles/gitlab-double.js'
import type {BareRepo} from '../helpers/git-fixtures.js'
import {IDENTITY, TOKEN, configRepo, memoryLog, setTag} from '../forge/helpers.js'

let repo: BareRepo
let gl: GitLabDouble

beforeEach(async () => {
  repo = await configRepo()
  gl = await GitLabDouble.start({
    token: TOKEN,
    projects: [{id: 42, path: 'acme/platform/config', gitDir: repo.dir}],
    users: [
      {id: 7, username: 'alice'},
      {id: 8, username: 'bob'}
    ]
  })
})

afterEach(async () => {
  expect(gl.violations).toEqual([])
  await gl.close()
  await repo.cleanup()
})

function input(overrides: Partial<PrLifecycleInput> = {}): PrLifecycleInput {
  const logged = memoryLog()
  return {
    repoUrl: repo.url,
    forge: new GitLabForge({
      apiUrl: gl.apiUrl,
      repoPath: 'acme/platform/config',
      token: TOKEN,
      log: logged.log
    }),
    paths: ['apps/web/overlays/dev'],
    identity: IDENTITY,
    edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '1.1.0'),
    log: logged.log,
    ...overrides
  }
}

describe('MR lifecycle against the GitLab double', () => {
  it('creates an MR with labels, reviewers and assignees resolved to user ids', async () => {
    const result = await runPrLifecycle(
      input({labels: ['deploy'], reviewers: ['alice'], assignees: ['@bob']})
    )
    expect(result.operation).toBe('created')
    if (result.operation === 'no-op') throw new Error('unreachable')
    expect(result.pullRequest.url).toBe(`${gl.origin}/acme/platform/config/-/merge_requests/1`)
    const mr = gl.mergeRequests[0]
    expect(mr).toMatchObject({
      iid: 1,
      source_branch: result.branch,
      target_branch: 'main',
      labels: ['deploy'],
      reviewer_ids: [7],
      assignee_ids: [8]
    })
    expect(parseMarker(mr.description)).toMatchObject({branch: result.branch, count: 1})
    expect(gl.requests.every(r => r.auth === TOKEN)).toBe(true)
  })

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

  it('a run that failed while decorating is completed by the next, unchanged run', async () => {
    const decorated = () => input({labels: ['deploy'], reviewers: ['alice'], assignees: ['@bob']})
    gl.inject({
      method: 'PUT',
      path: /\/merge_requests\/1$/,
      status: 403,
      body: {message: '403 Forbidden'}
    })
    await expect(runPrLifecycle(decorated())).rejects.toThrow(/403/)
    expect(gl.mergeRequests[0]).toMatchObject({labels: [], reviewer_ids: [], assignee_ids: []})

    expect((await runPrLifecycle(decorated())).operation).toBe('unchanged')
    expect(gl.mergeRequests).toHaveLength(1)
    expect(gl.mergeRequests[0]).toMatchObject({
      labels: ['deploy'],
      reviewer_ids: [7],
      assignee_ids: [8]
    })
    // A third run finds everything in place and writes nothing.
    const puts = () => gl.requests.filter(r => r.method === 'PUT').length
    const before = puts()
    expect((await runPrLifecycle(decorated())).operation).toBe('unchanged')
    expect(puts()).toBe(before)
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

  it('half-failed run: the branch exists without an MR, the next run opens it', async () => {
    gl.inject({
      method: 'POST',
      path: /merge_requests$/,
      status: 500,
      body: {message: '500 Internal Server Error'}
    })
    await expect(runPrLifecycle(input())).rejects.toThrow(
      /GitLab could not open a merge request.*HTTP 500/
    )
    expect(gl.mergeRequests).toHaveLength(0)
    const result = await runPrLifecycle(input())
    expect(result.operation).toBe('created')
    if (result.operation === 'no-op') throw new Error('unreachable')
    expect(result.pushed).toBe(false)
  })

  it('refuses to discard a commit a person pushed to the MR branch', async () => {
    const first = await runPrLifecycle(input())
    if (first.operation === 'no-op') throw new Error('unreachable')
    const human = await repo.commit({'notes.md': 'x\n'}, 'manual fix', first.branch)
    await expect(
      runPrLifecycle(input({edit: setTag('apps/web/overlays/dev', 'ghcr.io/acme/web', '1.3.0')}))
    ).rejects.toThrow(/\(PR #1\) has 1 commit\(s\) gitops-deploy did not make/)
    expect(await repo.head(first.branch)).toBe(human)
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
