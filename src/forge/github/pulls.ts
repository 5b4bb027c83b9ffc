import {Octokit} from '@octokit/rest'
import {retry} from '@octokit/plugin-retry'
import {throttling} from '@octokit/plugin-throttling'
import Bottleneck from 'bottleneck'
import {OperationError, errorMessage} from '../../core/errors.js'
import {
  PullRequestExistsError,
  type CreatePullRequestInput,
  type Forge,
  type MergeMethod,
  type PullRequest
} from '../forge.js'

const ThrottledOctokit = Octokit.plugin(retry, throttling)
export type Client = InstanceType<typeof ThrottledOctokit>

import type {ForgeLog} from '../forge.js'

export type {ForgeLog}

export interface GitHubForgeOptions {
  apiUrl: string
  /** owner/repo */
  repoPath: string
  token: string
  log: ForgeLog
  /** How many times a rate-limited request is retried (each honouring retry-after). */
  rateLimitRetries?: number
  /**
   * Milliseconds per second of `retry-after` and of GitHub's recommended
   * pacing between writes. 1000 in production; test doubles shrink it.
   */
  msPerSecond?: number
}

interface RestPull {
  number: number
  html_url: string
  node_id: string
  title: string
  body?: string | null
  draft?: boolean
  head: {ref: string}
  base: {ref: string}
  labels: {name?: string}[]
  auto_merge?: unknown
  requested_reviewers?: {login: string}[] | null
  requested_teams?: {slug: string}[] | null
  assignees?: {login: string}[] | null
}

const ENABLE_AUTO_MERGE = `mutation($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod}) {
    pullRequest { number autoMergeRequest { mergeMethod } }
  }
}`

const CREATE_COMMIT_ON_BRANCH = `mutation($input: CreateCommitOnBranchInput!) {
  createCommitOnBranch(input: $input) {
    commit { oid url }
  }
}`

export type GitHubContent =
  | {kind: 'dir'; entries: {name: string; path: string; type: string; sha: string}[]}
  | {kind: 'file'; sha: string; content?: Buffer}
  | {kind: 'link' | 'other'}

export type GitHubCommitResult =
  | {kind: 'committed'; commit: string}
  | {kind: 'stale'; detail: string}
  | {kind: 'unavailable'; detail: string}
  | {kind: 'rejected'; reason: 'protected' | 'other'; detail: string}

/**
 * The one Octokit setup: retry on 5xx only, the throttling plugin for rate
 * limits (its limiter groups per client), and Octokit's own logging muted
 * into debug (failures are reported with their fix by the caller).
 */
export function createGitHubClient(
  options: Pick<GitHubForgeOptions, 'apiUrl' | 'token' | 'log' | 'rateLimitRetries' | 'msPerSecond'>
): Client {
  const retries = options.rateLimitRetries ?? 3
  const ms = options.msPerSecond ?? 1000
  const log = options.log
  const limit =
    (kind: string) =>
    (retryAfter: number, o: {method: string; url: string}, _: unknown, count: number) => {
      if (count >= retries) {
        log.warning(
          `GitHub ${kind} rate limit on ${o.method} ${o.url}: giving up after ${count} retries`
        )
        return false
      }
      log.warning(`GitHub ${kind} rate limit on ${o.method} ${o.url}: retrying in ${retryAfter}s`)
      return true
    }
  // Separate limiter groups per instance: the plugin's module-wide groups would pace unrelated clients together.
  const group = (minTime: number) =>
    new Bottleneck.Group({maxConcurrent: 1, minTime: Math.round((minTime * ms) / 1000)})
  return new ThrottledOctokit({
    auth: options.token,
    baseUrl: options.apiUrl,
    userAgent: 'gitops-deploy',
    log: {
      debug: m => log.debug(m),
      info: m => log.debug(m),
      // Octokit warns about every failed request; we report failures ourselves, with the fix.
      warn: m => log.debug(m),
      error: m => log.debug(m)
    },
    // Server errors (5xx) only; 4xx are answers, and rate limits belong to the throttling plugin.
    retry: {
      retries: 2,
      retryAfterBaseValue: ms,
      doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451]
    },
    throttle: {
      onRateLimit: limit('primary'),
      onSecondaryRateLimit: limit('secondary'),
      retryAfterBaseValue: ms,
      fallbackSecondaryRateRetryAfter: 60,
      write: group(1000),
      notifications: group(3000)
    } as never
  })
}

export class GitHubForge implements Forge {
  readonly kind = 'github' as const
  private readonly client: Client
  private readonly owner: string
  private readonly repo: string

  /** GitHub's recommended gap between two writes of one client (1 s), in this client's time unit. */
  readonly writeIntervalMs: number

  constructor(private readonly options: GitHubForgeOptions) {
    const [owner, repo] = options.repoPath.split('/')
    this.owner = owner
    this.repo = repo
    this.writeIntervalMs = Math.round(options.msPerSecond ?? 1000)
    this.client = createGitHubClient(options)
  }

  async findOpenPullRequest(head: string, base: string): Promise<PullRequest | undefined> {
    const prs = await this.call(`list pull requests of ${this.options.repoPath}`, () =>
      this.client.paginate(this.client.rest.pulls.list, {
        owner: this.owner,
        repo: this.repo,
        state: 'open',
        head: `${this.owner}:${head}`,
        base,
        per_page: 100
      })
    )
    const pr = (prs as RestPull[]).find(p => p.head.ref === head && p.base.ref === base)
    return pr ? toPullRequest(pr) : undefined
  }

  async createPullRequest(input: CreatePullRequestInput): Promise<PullRequest> {
    try {
      const {data} = await this.client.rest.pulls.create({
        owner: this.owner,
        repo: this.repo,
        head: input.head,
        base: input.base,
        title: input.title,
        body: input.body,
        draft: input.draft
      })
      return toPullRequest(data as RestPull)
    } catch (e) {
      const text = errorText(e)
      if (statusOf(e) === 422 && /already exists/i.test(text))
        throw new PullRequestExistsError(text)
      throw this.translate(`open a pull request ${input.head} -> ${input.base}`, e)
    }
  }

  async updatePullRequest(
    pr: PullRequest,
    change: {title: string; body: string}
  ): Promise<PullRequest> {
    const {data} = await this.call(`update pull request #${pr.number}`, () =>
      this.client.rest.pulls.update({
        owner: this.owner,
        repo: this.repo,
        pull_number: pr.number,
        title: change.title,
        body: change.body
      })
    )
    return toPullRequest(data as RestPull)
  }

  async closePullRequest(pr: PullRequest, comment: string): Promise<void> {
    await this.call(`comment on pull request #${pr.number}`, () =>
      this.client.rest.issues.createComment({
        owner: this.owner,
        repo: this.repo,
        issue_number: pr.number,
        body: comment
      })
    )
    await this.call(`close pull request #${pr.number}`, () =>
      this.client.rest.pulls.update({
        owner: this.owner,
        repo: this.repo,
        pull_number: pr.number,
        state: 'closed'
      })
    )
  }

  async deleteBranch(branch: string): Promise<void> {
    await this.deleteBranchRef(branch)
  }

  async addLabels(pr: PullRequest, labels: string[]): Promise<void> {
    if (labels.length === 0) return
    await this.call(`add labels to #${pr.number}`, () =>
      this.client.rest.issues.addLabels({
        owner: this.owner,
        repo: this.repo,
        issue_number: pr.number,
        labels
      })
    )
  }

  async requestReviewers(
    pr: PullRequest,
    users: string[],
    teams: string[],
    options: {again?: boolean} = {}
  ): Promise<void> {
    // Logins and slugs are case-insensitive on GitHub.
    const pending = lower(pr.requestedReviewers ?? [])
    const pendingTeams = lower(pr.requestedTeams ?? [])
    let missing = users.filter(u => !pending.has(u.toLowerCase()))
    const missingTeams = teams.filter(t => !pendingTeams.has(t.toLowerCase()))
    if (missing.length > 0 && !options.again) {
      // GitHub drops a request once the person reviews; asking again would re-notify them.
      const reviews = await this.call(`list reviews of #${pr.number}`, () =>
        this.client.paginate(this.client.rest.pulls.listReviews, {
          owner: this.owner,
          repo: this.repo,
          pull_number: pr.number,
          per_page: 100
        })
      )
      const reviewed = lower(reviews.map(r => r.user?.login ?? '').filter(Boolean))
      missing = missing.filter(u => !reviewed.has(u.toLowerCase()))
    }
    if (missing.length === 0 && missingTeams.length === 0) return
    await this.call(`request reviewers on #${pr.number}`, () =>
      this.client.rest.pulls.requestReviewers({
        owner: this.owner,
        repo: this.repo,
        pull_number: pr.number,
        ...(missing.length > 0 ? {reviewers: missing} : {}),
        ...(missingTeams.length > 0 ? {team_reviewers: missingTeams} : {})
      })
    )
  }

  async addAssignees(pr: PullRequest, users: string[]): Promise<void> {
    const current = lower(pr.assignees ?? [])
    const missing = users.filter(u => !current.has(u.toLowerCase()))
    if (missing.length === 0) return
    await this.call(`assign #${pr.number}`, () =>
      this.client.rest.issues.addAssignees({
        owner: this.owner,
        repo: this.repo,
        issue_number: pr.number,
        assignees: missing
      })
    )
  }

  async enableAutoMerge(pr: PullRequest, method: MergeMethod): Promise<void> {
    if (!pr.nodeId)
      throw new OperationError(
        `pull request #${pr.number} has no node id; cannot enable auto-merge`
      )
    try {
      await this.client.graphql(ENABLE_AUTO_MERGE, {
        pullRequestId: pr.nodeId,
        mergeMethod: method.toUpperCase()
      })
    } catch (e) {
      const text = errorText(e)
      if (/auto.?merge is not allowed|not allowed for this repository/i.test(text)) {
        throw new OperationError(
          `GitHub refused auto-merge for #${pr.number}: ${text}; enable "Allow auto-merge" in the repository settings (Settings > General > Pull Requests) or drop --auto-merge`
        )
      }
      throw this.translate(`enable auto-merge on #${pr.number}`, e)
    }
  }

  async getDefaultBranch(): Promise<string> {
    const {data} = await this.call(`read repository ${this.options.repoPath}`, () =>
      this.client.rest.repos.get({owner: this.owner, repo: this.repo})
    )
    return data.default_branch
  }

  // --- API commit transport (src/transport/github-api.ts): reads and the GraphQL commit ---

  /** Tip of `branch`, or undefined when the branch does not exist. */
  async branchHead(branch: string): Promise<string | undefined> {
    try {
      const {data} = await this.client.rest.git.getRef({
        owner: this.owner,
        repo: this.repo,
        ref: `heads/${branch}`
      })
      return data.object.sha
    } catch (e) {
      if (statusOf(e) === 404) return undefined
      throw this.translate(`read branch ${branch}`, e)
    }
  }

  /**
   * One path at `ref` through the contents API: a directory listing, a file
   * with its bytes (or only its blob sha above the API's 1 MB inline limit),
   * a symlink, or undefined when nothing is there.
   */
  async getContent(ref: string, path: string): Promise<GitHubContent | undefined> {
    try {
      const {data} = await this.client.rest.repos.getContent({
        owner: this.owner,
        repo: this.repo,
        path,
        ref
      })
      if (Array.isArray(data)) {
        return {
          kind: 'dir',
          entries: data.map(e => ({name: e.name, path: e.path, type: e.type, sha: e.sha}))
        }
      }
      const item = data as {type: string; sha: string; content?: string; encoding?: string}
      if (item.type === 'file') {
        const inline = item.encoding === 'base64' && typeof item.content === 'string'
        return {
          kind: 'file',
          sha: item.sha,
          ...(inline ? {content: Buffer.from(item.content!, 'base64')} : {})
        }
      }
      return {kind: item.type === 'symlink' ? 'link' : 'other'}
    } catch (e) {
      if (statusOf(e) === 404) return undefined
      throw this.translate(`read ${path} at ${ref.slice(0, 12)}`, e)
    }
  }

  /** The recursive tree of a commit; `truncated` when GitHub cut the listing short. */
  async getTree(
    sha: string,
    recursive = true
  ): Promise<{
    truncated: boolean
    entries: {path: string; type: string; mode: string; sha: string}[]
  }> {
    const {data} = await this.call(`list the tree of ${sha.slice(0, 12)}`, () =>
      this.client.rest.git.getTree({
        owner: this.owner,
        repo: this.repo,
        tree_sha: sha,
        ...(recursive ? {recursive: '1'} : {})
      })
    )
    return {
      truncated: data.truncated === true,
      entries: data.tree.map(e => ({
        path: e.path ?? '',
        type: e.type ?? '',
        mode: e.mode ?? '',
        sha: e.sha ?? ''
      }))
    }
  }

  async getBlob(sha: string): Promise<Buffer> {
    const {data} = await this.call(`read blob ${sha.slice(0, 12)}`, () =>
      this.client.rest.git.getBlob({owner: this.owner, repo: this.repo, file_sha: sha})
    )
    return Buffer.from(data.content, data.encoding === 'base64' ? 'base64' : 'utf8')
  }

  /**
   * `createCommitOnBranch`: one atomic commit on top of `expectedHeadOid`.
   * GitHub answers a moved branch with a STALE_DATA error (HTTP 200), which
   * comes back as `stale` so the caller can re-read and re-apply.
   */
  async createCommitOnBranch(input: {
    branch: string
    expectedHeadOid: string
    headline: string
    body: string
    additions: {path: string; contents: Buffer}[]
    deletions?: string[]
  }): Promise<GitHubCommitResult> {
    try {
      const data = await this.client.graphql<{
        createCommitOnBranch: {commit: {oid: string; url?: string}} | null
      }>(CREATE_COMMIT_ON_BRANCH, {
        input: {
          branch: {repositoryNameWithOwner: this.options.repoPath, branchName: input.branch},
          message: {headline: input.headline, ...(input.body ? {body: input.body} : {})},
          fileChanges: {
            additions: input.additions.map(a => ({
              path: a.path,
              contents: a.contents.toString('base64')
            })),
            ...(input.deletions?.length ? {deletions: input.deletions.map(path => ({path}))} : {})
          },
          expectedHeadOid: input.expectedHeadOid
        }
      })
      const oid = data.createCommitOnBranch?.commit.oid
      if (!oid) return {kind: 'rejected', reason: 'other', detail: 'GitHub returned no commit'}
      return {kind: 'committed', commit: oid}
    } catch (e) {
      const errors = (e as {errors?: {type?: string; message?: string}[]}).errors ?? []
      const text = errorText(e)
      if (errors.some(x => x.type === 'STALE_DATA') || /Expected branch to point to/i.test(text))
        return {kind: 'stale', detail: text}
      const status = statusOf(e)
      // GHES without GraphQL, or one whose schema predates createCommitOnBranch.
      if (
        status === 404 ||
        /doesn't exist on type 'Mutation'|undefinedField|CreateCommitOnBranchInput isn't a defined input type/i.test(
          text
        )
      )
        return {kind: 'unavailable', detail: status === 404 ? `HTTP 404 ${text}` : text}
      if (
        /protected branch|rule violation|verified signatures|cannot be written|Changes must be made through a pull request/i.test(
          text
        )
      )
        return {kind: 'rejected', reason: 'protected', detail: text}
      if (errors.some(x => x.type === 'NOT_FOUND') && /ref|branch/i.test(text))
        return {kind: 'rejected', reason: 'other', detail: text}
      throw this.translate(`create a commit on ${input.branch}`, e)
    }
  }

  // --- PR branches over the API (src/transport/github-api.ts replaceBranch / compare) ---

  /** Creates `refs/heads/<branch>` at `sha`; false when it exists already (a concurrent writer). */
  async createBranchRef(branch: string, sha: string): Promise<boolean> {
    try {
      await this.client.rest.git.createRef({
        owner: this.owner,
        repo: this.repo,
        ref: `refs/heads/${branch}`,
        sha
      })
      return true
    } catch (e) {
      if (statusOf(e) === 422 && /already exists/i.test(errorText(e))) return false
      throw this.translate(`create branch ${branch}`, e)
    }
  }

  /** Points `branch` at `sha`, fast-forward or not (the REST API has no compare-and-swap). */
  async forceBranchRef(branch: string, sha: string): Promise<void> {
    await this.call(`move branch ${branch}`, () =>
      this.client.rest.git.updateRef({
        owner: this.owner,
        repo: this.repo,
        ref: `heads/${branch}`,
        sha,
        force: true
      })
    )
  }

  async deleteBranchRef(branch: string): Promise<void> {
    try {
      await this.client.rest.git.deleteRef({
        owner: this.owner,
        repo: this.repo,
        ref: `heads/${branch}`
      })
    } catch (e) {
      if (statusOf(e) === 422 || statusOf(e) === 404) return
      throw this.translate(`delete branch ${branch}`, e)
    }
  }

  /** One page of `base...head` (three dots: from the merge base); files come on page 1 only. */
  async compare(
    base: string,
    head: string,
    page: number,
    perPage: number
  ): Promise<{
    aheadBy: number
    behindBy: number
    mergeBase: string
    commits: {sha: string; message: string; author: string; parents: string[]}[]
    files?: {path: string; sha: string; status: string}[]
  }> {
    const {data} = await this.call(`compare ${base}...${head.slice(0, 12)}`, () =>
      this.client.rest.repos.compareCommitsWithBasehead({
        owner: this.owner,
        repo: this.repo,
        basehead: `${base}...${head}`,
        page,
        per_page: perPage
      })
    )
    return {
      aheadBy: data.ahead_by,
      behindBy: data.behind_by,
      mergeBase: data.merge_base_commit.sha,
      commits: data.commits.map(c => ({
        sha: c.sha,
        message: c.commit.message,
        author: `${c.commit.author?.name ?? ''} <${c.commit.author?.email ?? ''}>`,
        parents: c.parents.map(p => p.sha)
      })),
      ...(data.files
        ? {files: data.files.map(f => ({path: f.filename, sha: f.sha ?? '', status: f.status}))}
        : {})
    }
  }

  /** `commit.verification` of one commit (GitHub's "Verified" badge). */
  async commitVerification(sha: string): Promise<{verified: boolean; reason: string}> {
    const {data} = await this.call(`read commit ${sha.slice(0, 12)}`, () =>
      this.client.rest.repos.getCommit({owner: this.owner, repo: this.repo, ref: sha})
    )
    const v = data.commit.verification
    return {verified: v?.verified === true, reason: v?.reason ?? 'unknown'}
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw this.translate(what, e)
    }
  }

  private translate(what: string, e: unknown): Error {
    const status = statusOf(e)
    const text = errorText(e)
    const where = `${this.options.apiUrl} (${this.options.repoPath})`
    const fix = /rate limit/i.test(text)
      ? 'GitHub kept rate-limiting after the retries; re-run later, and serialise deploys to this repository (a CI concurrency group) so fewer run at once'
      : status === 401
        ? 'set GITOPS_TOKEN to a valid token'
        : status === 403
          ? 'give the token contents:write and pull-requests:write on the repository (or wait if this is a rate limit)'
          : status === 404
            ? 'check the repository URL and that the token can see the repository'
            : status === 422
              ? 'check the branch names, labels and reviewer logins'
              : status === undefined
                ? `check that ${this.options.apiUrl} is reachable (--api-url)`
                : 'retry later; if it persists, check the GitHub status page'
    return new OperationError(
      `GitHub could not ${what} at ${where}: ${status ? `HTTP ${status} ` : ''}${text}; ${fix}`,
      {cause: e}
    )
  }
}

function lower(names: string[]): Set<string> {
  return new Set(names.map(n => n.toLowerCase()))
}

function toPullRequest(p: RestPull): PullRequest {
  return {
    number: p.number,
    url: p.html_url,
    nodeId: p.node_id,
    head: p.head.ref,
    base: p.base.ref,
    title: p.title,
    body: p.body ?? '',
    draft: p.draft === true,
    labels: p.labels.map(l => l.name ?? '').filter(Boolean),
    ...(p.requested_reviewers ? {requestedReviewers: p.requested_reviewers.map(u => u.login)} : {}),
    ...(p.requested_teams ? {requestedTeams: p.requested_teams.map(t => t.slug)} : {}),
    ...(p.assignees ? {assignees: p.assignees.map(u => u.login)} : {}),
    autoMerge: p.auto_merge != null
  }
}

export function statusOf(e: unknown): number | undefined {
  const s = (e as {status?: unknown}).status
  return typeof s === 'number' && s > 0 ? s : undefined
}

/** GitHub puts the useful part in `errors[].message` for 422s; include it. */
export function errorText(e: unknown): string {
  const data = (e as {response?: {data?: {message?: string; errors?: unknown[]}}}).response?.data
  const details = (data?.errors ?? [])
    .map(x => (typeof x === 'string' ? x : ((x as {message?: string}).message ?? '')))
    .filter(Boolean)
  const graphql = (e as {errors?: {message?: string}[]}).errors?.map(x => x.message ?? '') ?? []
  const base = data?.message ?? errorMessage(e)
  return [base, ...details, ...graphql].filter((v, i, a) => v && a.indexOf(v) === i).join(': ')
}
