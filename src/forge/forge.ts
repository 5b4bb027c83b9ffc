import type {ProviderKind} from './provider.js'

/** A pull request (GitHub) or merge request (GitLab), as the lifecycle needs it. */
export interface PullRequest {
  /** GitHub PR number; GitLab MR iid. */
  number: number
  url: string
  head: string
  base: string
  title: string
  body: string
  draft: boolean
  labels: string[]
  /**
   * Pending review requests and assignees as the forge last reported them,
   * when it reports them with the PR (GitHub); lets decorations skip calls.
   */
  requestedReviewers?: string[]
  requestedTeams?: string[]
  assignees?: string[]
  /** GitHub's GraphQL id, needed to enable auto-merge. */
  nodeId?: string
  autoMerge: boolean
}

export type MergeMethod = 'merge' | 'squash' | 'rebase'

export interface CreatePullRequestInput {
  head: string
  base: string
  title: string
  body: string
  draft: boolean
}

/**
 * The provider-neutral surface of a forge. Each method is one idempotent
 * intention so the lifecycle can re-run after any partial failure.
 */
export interface Forge {
  readonly kind: ProviderKind
  /** The open PR from `head` into `base`, if any. */
  findOpenPullRequest(head: string, base: string): Promise<PullRequest | undefined>
  /** Throws PullRequestExistsError when the forge already has one for head -> base. */
  createPullRequest(input: CreatePullRequestInput): Promise<PullRequest>
  updatePullRequest(pr: PullRequest, change: {title: string; body: string}): Promise<PullRequest>
  addLabels(pr: PullRequest, labels: string[]): Promise<void>
  /**
   * Requests review from whoever is not already asked. Those who already
   * reviewed are asked again only with `again` (the content changed); an
   * untouched PR never re-notifies them.
   */
  requestReviewers(
    pr: PullRequest,
    users: string[],
    teams: string[],
    options?: {again?: boolean}
  ): Promise<void>
  addAssignees(pr: PullRequest, users: string[]): Promise<void>
  enableAutoMerge(pr: PullRequest, method: MergeMethod): Promise<void>
  getDefaultBranch(): Promise<string>
  /** Comments on the PR, then closes it (a closed PR stays closed: no error). */
  closePullRequest(pr: PullRequest, comment: string): Promise<void>
  /** Deletes the PR's head branch; a branch already gone is not an error. */
  deleteBranch(branch: string): Promise<void>
}

/** The forge answered that a PR for this head/base exists (a concurrent run won the race). */
export class PullRequestExistsError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'PullRequestExistsError'
  }
}

/** Where a forge client logs: debug detail, and warnings the user should see (rate limits). */
export interface ForgeLog {
  debug(message: string): void
  warning(message: string): void
}
