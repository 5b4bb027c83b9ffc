import type {Env} from '../platform/inputs.js'

/** The ref the pipeline runs for; feeds `{branch}` and `{tag}` in the tag format. */
export interface RefInfo {
  branch?: string
  tag?: string
}

interface Common {
  /** Where the decision came from, for the reason text: `github push`, `gitlab merge_request_event`... */
  event: string
  /** Undefined outside CI: the checkout's HEAD is used. */
  head?: string
  ref: RefInfo
}

/**
 * What the CI run says about the commits to compare.
 * - `range`: a base commit is known. `direct` compares with the base itself (the
 *   previous push of the same ref, or an explicit `--base`); `merge-base` compares
 *   with the fork point (pull/merge requests and merge queues).
 * - `new-ref`: the ref was just created (zero `before`); compare with the fork
 *   point from the default branch.
 * - `no-base`: nothing to compare with; the command builds.
 */
export type CiContext =
  | (Common & {
      kind: 'range'
      base: string
      compare: 'direct' | 'merge-base'
      /** The base was the head of an earlier pipeline for this same ref. */
      sameRef: boolean
      /** GitHub's `forced` flag on a push. */
      forced?: boolean
    })
  | (Common & {kind: 'new-ref'; defaultBranch?: string})
  | (Common & {kind: 'no-base'; reason: string})

const ZERO = /^0+$/

export function isZeroSha(sha: string | undefined): boolean {
  return !sha || ZERO.test(sha)
}

/** A loosely typed view of the GitHub event payload; only the fields we read. */
export interface GithubEvent {
  before?: string
  after?: string
  forced?: boolean
  created?: boolean
  repository?: {default_branch?: string}
  pull_request?: {base?: {sha?: string; ref?: string}; head?: {sha?: string; ref?: string}}
  merge_group?: {base_sha?: string; head_sha?: string; base_ref?: string; head_ref?: string}
}

/**
 * The GitHub event as the adapter read it: the Action takes it from `@actions/github`'s
 * `context`, the CLI from GITHUB_EVENT_PATH and the GITHUB_* variables of its environment.
 * Absent fields fall back to those variables in `env`.
 */
export interface GithubRun {
  /** The event name (`push`, `pull_request`...). */
  name?: string
  /** The event payload; undefined when it could not be read. */
  payload?: GithubEvent
  sha?: string
  /** The full ref (`refs/heads/main`, `refs/pull/1/merge`). */
  ref?: string
  repo?: {owner: string; repo: string}
}

export interface Overrides {
  base?: string
  head?: string
  defaultBranch?: string
}

/**
 * Pure: environment (+ the GitHub event, which the adapter reads and hands in) in,
 * comparison plan out. Explicit `--base` wins over any CI context, so users can compare
 * with "the last deployed commit".
 */
export function resolveCiContext(
  env: Env,
  run: GithubRun | undefined,
  overrides: Overrides = {}
): CiContext {
  const ctx =
    env.GITHUB_ACTIONS === 'true'
      ? github(env, run)
      : env.GITLAB_CI === 'true'
        ? gitlab(env)
        : local()
  const head = overrides.head ?? ctx.head
  if (overrides.base) {
    return {
      kind: 'range',
      event: 'explicit --base',
      head,
      ref: ctx.ref,
      base: overrides.base,
      compare: 'direct',
      sameRef: true
    }
  }
  if (ctx.kind === 'new-ref' && overrides.defaultBranch) {
    return {...ctx, head, defaultBranch: overrides.defaultBranch}
  }
  return {...ctx, head}
}

function local(): CiContext {
  return {
    kind: 'no-base',
    event: 'local run',
    ref: {},
    reason:
      'no CI context and no --base, so there is nothing to compare with; pass --base <sha> of the last built commit'
  }
}

function githubRef(env: Env, fullRef: string | undefined): RefInfo {
  if (env.GITHUB_HEAD_REF) return {branch: env.GITHUB_HEAD_REF}
  if (env.GITHUB_REF_TYPE === 'tag' && env.GITHUB_REF_NAME) return {tag: env.GITHUB_REF_NAME}
  if (fullRef?.startsWith('refs/tags/')) return {tag: fullRef.slice('refs/tags/'.length)}
  if (fullRef?.startsWith('refs/heads/')) return {branch: fullRef.slice('refs/heads/'.length)}
  return env.GITHUB_REF_NAME ? {branch: env.GITHUB_REF_NAME} : {}
}

function github(env: Env, run: GithubRun | undefined): CiContext {
  const name = run?.name ?? env.GITHUB_EVENT_NAME ?? 'unknown'
  const label = `github ${name}`
  const ref = githubRef(env, run?.ref ?? env.GITHUB_REF)
  const sha = run?.sha ?? env.GITHUB_SHA
  const event = run?.payload
  const noBase = (reason: string): CiContext => ({
    kind: 'no-base',
    event: label,
    head: sha,
    ref,
    reason
  })
  const needsPayload = ['push', 'pull_request', 'pull_request_target', 'merge_group']
  if (needsPayload.includes(name) && !event) {
    return noBase(
      `the ${name} event payload (GITHUB_EVENT_PATH) could not be read, so the base commit is unknown`
    )
  }
  switch (name) {
    case 'push': {
      const head = event?.after && !isZeroSha(event.after) ? event.after : sha
      if (isZeroSha(event?.before)) {
        const defaultBranch = event?.repository?.default_branch
        if (ref.branch && defaultBranch && ref.branch === defaultBranch) {
          return {
            ...noBase(
              `first push of the default branch '${defaultBranch}': no earlier commit to compare with`
            ),
            head
          }
        }
        return {kind: 'new-ref', event: label, head, ref, defaultBranch}
      }
      return {
        kind: 'range',
        event: label,
        head,
        ref,
        base: event!.before!,
        compare: 'direct',
        sameRef: true,
        forced: event?.forced === true
      }
    }
    case 'pull_request':
    case 'pull_request_target': {
      const base = event?.pull_request?.base?.sha
      // pull_request checks out the merge commit (GITHUB_SHA); pull_request_target
      // runs on the base branch, so the PR's own head is the commit to judge.
      const head = name === 'pull_request' ? sha : event?.pull_request?.head?.sha
      if (!base || !head) return noBase(`the ${name} payload has no base/head sha`)
      return {kind: 'range', event: label, head, ref, base, compare: 'merge-base', sameRef: false}
    }
    case 'merge_group': {
      const base = event?.merge_group?.base_sha
      const head = event?.merge_group?.head_sha ?? sha
      if (!base || !head) return noBase('the merge_group payload has no base_sha/head_sha')
      return {kind: 'range', event: label, head, ref, base, compare: 'merge-base', sameRef: false}
    }
    case 'workflow_dispatch':
    case 'schedule':
      return noBase(`${name} runs carry no base commit`)
    default:
      return noBase(`event '${name}' carries no base commit this command understands`)
  }
}

function gitlab(env: Env): CiContext {
  const source = env.CI_PIPELINE_SOURCE ?? 'unknown'
  const label = `gitlab ${source}`
  const head = env.CI_COMMIT_SHA
  const ref: RefInfo = env.CI_COMMIT_TAG
    ? {tag: env.CI_COMMIT_TAG}
    : {
        branch:
          env.CI_COMMIT_BRANCH ?? env.CI_MERGE_REQUEST_SOURCE_BRANCH_NAME ?? env.CI_COMMIT_REF_NAME
      }
  const noBase = (reason: string): CiContext => ({kind: 'no-base', event: label, head, ref, reason})
  if (source === 'merge_request_event' || env.CI_MERGE_REQUEST_IID) {
    // CI_COMMIT_BEFORE_SHA is all zeros here; the MR's diff base is the fork point.
    const base = env.CI_MERGE_REQUEST_DIFF_BASE_SHA
    if (base && !isZeroSha(base)) {
      return {kind: 'range', event: label, head, ref, base, compare: 'merge-base', sameRef: false}
    }
    const target = env.CI_MERGE_REQUEST_TARGET_BRANCH_NAME ?? env.CI_DEFAULT_BRANCH
    return {kind: 'new-ref', event: label, head, ref, defaultBranch: target}
  }
  if (source === 'push') {
    const before = env.CI_COMMIT_BEFORE_SHA
    if (!isZeroSha(before)) {
      return {
        kind: 'range',
        event: label,
        head,
        ref,
        base: before!,
        compare: 'direct',
        sameRef: true
      }
    }
    const defaultBranch = env.CI_DEFAULT_BRANCH
    if (ref.branch && defaultBranch && ref.branch === defaultBranch) {
      return noBase(
        `first pipeline of the default branch '${defaultBranch}' (CI_COMMIT_BEFORE_SHA is all zeros)`
      )
    }
    // A new branch or tag: GitLab itself reports every file as changed here.
    return {kind: 'new-ref', event: label, head, ref, defaultBranch}
  }
  if (
    ['web', 'schedule', 'api', 'trigger', 'pipeline', 'parent_pipeline', 'chat'].includes(source)
  ) {
    return noBase(`${source} pipelines carry no base commit (CI_COMMIT_BEFORE_SHA is all zeros)`)
  }
  return noBase(`pipeline source '${source}' carries no base commit this command understands`)
}
