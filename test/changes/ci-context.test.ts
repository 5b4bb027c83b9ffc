import {describe, expect, it} from 'vitest'
import {resolveCiContext} from '../../src/changes/ci-context.js'

const A = 'a'.repeat(40)
const B = 'b'.repeat(40)
const M = 'c'.repeat(40)
const ZERO = '0'.repeat(40)
const gh = (event: string, extra: Record<string, string> = {}) => ({
  GITHUB_ACTIONS: 'true',
  GITHUB_EVENT_NAME: event,
  GITHUB_SHA: B,
  GITHUB_REF: 'refs/heads/main',
  GITHUB_REF_NAME: 'main',
  GITHUB_REF_TYPE: 'branch',
  ...extra
})

const gl = (extra: Record<string, string>) => ({
  GITLAB_CI: 'true',
  CI_COMMIT_SHA: B,
  CI_DEFAULT_BRANCH: 'main',
  ...extra
})

describe('GitHub', () => {
  it('push compares before with after on the same ref', () => {
    expect(resolveCiContext(gh('push'), {payload: {before: A, after: B}})).toMatchObject({
      kind: 'range',
      base: A,
      head: B,
      compare: 'direct',
      sameRef: true,
      ref: {branch: 'main'}
    })
  })

  it('keeps the forced flag of a force push for the reason', () => {
    expect(
      resolveCiContext(gh('push'), {payload: {before: A, after: B, forced: true}})
    ).toMatchObject({
      forced: true
    })
  })

  it('a zero before on a new branch compares with the default branch', () => {
    const env = gh('push', {GITHUB_REF: 'refs/heads/feat', GITHUB_REF_NAME: 'feat'})
    expect(
      resolveCiContext(env, {
        payload: {
          before: ZERO,
          after: B,
          created: true,
          repository: {default_branch: 'main'}
        }
      })
    ).toMatchObject({kind: 'new-ref', defaultBranch: 'main', head: B, ref: {branch: 'feat'}})
  })

  it('a zero before on the default branch itself has no base', () => {
    const ctx = resolveCiContext(gh('push'), {
      payload: {
        before: ZERO,
        after: B,
        repository: {default_branch: 'main'}
      }
    })
    expect(ctx).toMatchObject({kind: 'no-base', head: B})
    expect(ctx.kind === 'no-base' && ctx.reason).toContain('first push of the default branch')
  })

  it('a new tag is a new ref named as a tag', () => {
    const env = gh('push', {
      GITHUB_REF: 'refs/tags/v1.0.0',
      GITHUB_REF_NAME: 'v1.0.0',
      GITHUB_REF_TYPE: 'tag'
    })
    expect(
      resolveCiContext(env, {
        payload: {before: ZERO, after: B, repository: {default_branch: 'main'}}
      })
    ).toMatchObject({
      kind: 'new-ref',
      ref: {tag: 'v1.0.0'}
    })
  })

  it('pull_request judges the merge commit against the fork point of the base', () => {
    const env = gh('pull_request', {
      GITHUB_SHA: M,
      GITHUB_HEAD_REF: 'feat',
      GITHUB_REF: 'refs/pull/1/merge'
    })
    expect(
      resolveCiContext(env, {payload: {pull_request: {base: {sha: A}, head: {sha: B}}}})
    ).toMatchObject({
      kind: 'range',
      base: A,
      head: M,
      compare: 'merge-base',
      sameRef: false,
      ref: {branch: 'feat'}
    })
  })

  it('pull_request_target judges the pull request head', () => {
    const env = gh('pull_request_target', {GITHUB_SHA: A})
    expect(
      resolveCiContext(env, {payload: {pull_request: {base: {sha: A}, head: {sha: B}}}})
    ).toMatchObject({
      head: B,
      base: A
    })
  })

  it('merge_group uses base_sha and head_sha', () => {
    expect(
      resolveCiContext(gh('merge_group'), {payload: {merge_group: {base_sha: A, head_sha: M}}})
    ).toMatchObject({
      kind: 'range',
      base: A,
      head: M,
      compare: 'merge-base'
    })
  })

  it.each(['workflow_dispatch', 'schedule', 'release'])('%s has no base', event => {
    const ctx = resolveCiContext(gh(event), {payload: {}})
    expect(ctx).toMatchObject({kind: 'no-base', head: B})
    expect(ctx.kind === 'no-base' && ctx.reason).toMatch(/no base commit/)
  })

  it('a push without a readable payload fails open', () => {
    const ctx = resolveCiContext(gh('push'), undefined)
    expect(ctx.kind === 'no-base' && ctx.reason).toContain('payload')
  })
})

describe('GitLab', () => {
  it('push compares with CI_COMMIT_BEFORE_SHA', () => {
    const env = gl({CI_PIPELINE_SOURCE: 'push', CI_COMMIT_BEFORE_SHA: A, CI_COMMIT_BRANCH: 'main'})
    expect(resolveCiContext(env, undefined)).toMatchObject({
      kind: 'range',
      base: A,
      head: B,
      compare: 'direct'
    })
  })

  it('a new branch (zero before) compares with CI_DEFAULT_BRANCH', () => {
    const env = gl({
      CI_PIPELINE_SOURCE: 'push',
      CI_COMMIT_BEFORE_SHA: ZERO,
      CI_COMMIT_BRANCH: 'feat'
    })
    expect(resolveCiContext(env, undefined)).toMatchObject({
      kind: 'new-ref',
      defaultBranch: 'main',
      ref: {branch: 'feat'}
    })
  })

  it('the first pipeline of the default branch has no base', () => {
    const env = gl({
      CI_PIPELINE_SOURCE: 'push',
      CI_COMMIT_BEFORE_SHA: ZERO,
      CI_COMMIT_BRANCH: 'main'
    })
    expect(resolveCiContext(env, undefined)).toMatchObject({kind: 'no-base'})
  })

  it('merge request pipelines use CI_MERGE_REQUEST_DIFF_BASE_SHA', () => {
    const env = gl({
      CI_PIPELINE_SOURCE: 'merge_request_event',
      CI_COMMIT_BEFORE_SHA: ZERO,
      CI_MERGE_REQUEST_IID: '7',
      CI_MERGE_REQUEST_DIFF_BASE_SHA: A,
      CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'feat'
    })
    expect(resolveCiContext(env, undefined)).toMatchObject({
      kind: 'range',
      base: A,
      compare: 'merge-base',
      sameRef: false,
      ref: {branch: 'feat'}
    })
  })

  it.each(['web', 'schedule', 'api', 'trigger'])('%s pipelines have no base', source => {
    const env = gl({CI_PIPELINE_SOURCE: source, CI_COMMIT_BEFORE_SHA: ZERO})
    expect(resolveCiContext(env, undefined)).toMatchObject({kind: 'no-base', head: B})
  })
})

describe('overrides', () => {
  it('--base wins over any CI context and --head over the CI commit', () => {
    expect(resolveCiContext(gh('schedule'), {payload: {}}, {base: A, head: M})).toMatchObject({
      kind: 'range',
      base: A,
      head: M,
      compare: 'direct',
      sameRef: true
    })
  })

  it('outside CI, without --base, there is no base', () => {
    expect(resolveCiContext({}, undefined)).toMatchObject({kind: 'no-base', head: undefined})
  })

  it('--default-branch overrides the branch a new ref is compared with', () => {
    const env = gl({
      CI_PIPELINE_SOURCE: 'push',
      CI_COMMIT_BEFORE_SHA: ZERO,
      CI_COMMIT_BRANCH: 'feat'
    })
    expect(resolveCiContext(env, undefined, {defaultBranch: 'develop'})).toMatchObject({
      defaultBranch: 'develop'
    })
  })
})
