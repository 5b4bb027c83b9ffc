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
  requestReviewers(pr: PullRequest, users: string[], teams: string[]): Promise<void>
  addAssignees(pr: PullRequest, users: string[]): Promise<void>
  enableAutoMerge(pr: PullRequest, method: MergeMethod): Promise<void>
  getDefaultBranch(): Promise<string>
}

/** The forge answered that a PR for this head/base exists (a concurrent run won the race). */
export class PullRequestExistsError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'PullRequestExistsError'
  }
}
