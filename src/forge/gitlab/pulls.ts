import {OperationError, UsageError} from '../../core/errors.js'
import {
  PullRequestExistsError,
  type CreatePullRequestInput,
  type Forge,
  type MergeMethod,
  type PullRequest
} from '../forge.js'
import type {ForgeLog} from '../forge.js'
import {gitLabStatusFix} from './status.js'
import {errorText, gitLabClient, statusOf, type GitLabClient} from './client.js'

export interface GitLabForgeOptions {
  /** `https://host/api/v4` */
  apiUrl: string
  /** Full project path, `group/sub/project`. */
  repoPath: string
  token: string
  log: ForgeLog
}

interface RestMergeRequest {
  iid: number
  web_url: string
  title: string
  description?: string | null
  draft?: boolean
  work_in_progress?: boolean
  source_branch: string
  target_branch: string
  labels?: string[]
  reviewers?: {id: number}[]
  assignees?: {id: number}[]
  merge_when_pipeline_succeeds?: boolean
}

const DRAFT_PREFIX = 'Draft: '

export class GitLabForge implements Forge {
  readonly kind = 'gitlab' as const
  private readonly api: GitLabClient
  private readonly project: string
  private readonly userIds = new Map<string, number>()

  constructor(private readonly options: GitLabForgeOptions) {
    this.api = gitLabClient({apiUrl: options.apiUrl, token: options.token})
    this.project = options.repoPath
  }

  async findOpenPullRequest(head: string, base: string): Promise<PullRequest | undefined> {
    const mrs = (await this.call(`list merge requests of ${this.project}`, () =>
      this.api.MergeRequests.all({
        projectId: this.project,
        state: 'opened',
        sourceBranch: head,
        targetBranch: base,
        perPage: 100
      })
    )) as unknown as RestMergeRequest[]
    const mr = mrs.find(m => m.source_branch === head && m.target_branch === base)
    return mr ? toPullRequest(mr) : undefined
  }

  async createPullRequest(input: CreatePullRequestInput): Promise<PullRequest> {
    // GitLab has no draft flag on create: the title prefix is the draft marker.
    const title =
      input.draft && !isDraftTitle(input.title) ? DRAFT_PREFIX + input.title : input.title
    try {
      const mr = await this.api.MergeRequests.create(this.project, input.head, input.base, title, {
        description: input.body,
        removeSourceBranch: true
      })
      return toPullRequest(mr as unknown as RestMergeRequest)
    } catch (e) {
      const text = errorText(e)
      if (statusOf(e) === 409 && /already exists/i.test(text))
        throw new PullRequestExistsError(text)
      throw this.translate(`open a merge request ${input.head} -> ${input.base}`, e)
    }
  }

  async updatePullRequest(
    pr: PullRequest,
    change: {title: string; body: string}
  ): Promise<PullRequest> {
    // Keep a draft a draft: a human may have marked it ready, and we must not flip it back either.
    const title =
      pr.draft && !isDraftTitle(change.title) ? DRAFT_PREFIX + change.title : change.title
    const mr = await this.call(`update merge request !${pr.number}`, () =>
      this.api.MergeRequests.edit(this.project, pr.number, {title, description: change.body})
    )
    return toPullRequest(mr as unknown as RestMergeRequest)
  }

  async closePullRequest(pr: PullRequest, comment: string): Promise<void> {
    await this.call(`comment on merge request !${pr.number}`, () =>
      this.api.MergeRequestNotes.create(this.project, pr.number, comment)
    )
    await this.call(`close merge request !${pr.number}`, () =>
      this.api.MergeRequests.edit(this.project, pr.number, {stateEvent: 'close'})
    )
  }

  async deleteBranch(branch: string): Promise<void> {
    try {
      await this.api.Branches.remove(this.project, branch)
    } catch (e) {
      if (statusOf(e) === 404) return
      throw this.translate(`delete branch ${branch}`, e)
    }
  }

  async addLabels(pr: PullRequest, labels: string[]): Promise<void> {
    if (labels.length === 0) return
    await this.call(`add labels to !${pr.number}`, () =>
      this.api.MergeRequests.edit(this.project, pr.number, {addLabels: labels.join(',')})
    )
  }

  async requestReviewers(pr: PullRequest, users: string[], teams: string[]): Promise<void> {
    if (teams.length > 0) {
      throw new UsageError(
        `GitLab has no team reviewers (${teams.join(', ')}); list the members with --reviewers instead`
      )
    }
    if (users.length === 0) return
    const ids = await this.resolveUsers(users)
    const current = await this.show(pr)
    // reviewer_ids replaces the set; keep whoever is already there.
    const have = current.reviewers?.map(r => r.id) ?? []
    const merged = union(have, ids)
    // Everyone is already a reviewer (GitLab keeps them after they review): nothing to ask.
    if (merged.length === have.length) return
    await this.call(`request reviewers on !${pr.number}`, () =>
      this.api.MergeRequests.edit(this.project, pr.number, {reviewerIds: merged})
    )
  }

  async addAssignees(pr: PullRequest, users: string[]): Promise<void> {
    if (users.length === 0) return
    const ids = await this.resolveUsers(users)
    const current = await this.show(pr)
    const have = current.assignees?.map(r => r.id) ?? []
    const merged = union(have, ids)
    if (merged.length === have.length) return
    await this.call(`assign !${pr.number}`, () =>
      this.api.MergeRequests.edit(this.project, pr.number, {assigneeIds: merged})
    )
  }

  async enableAutoMerge(pr: PullRequest, method: MergeMethod): Promise<void> {
    if (method === 'rebase') {
      throw new UsageError(
        'GitLab takes the merge method from the project (Settings > Merge requests > Merge method); use --auto-merge merge or squash'
      )
    }
    try {
      await this.api.MergeRequests.merge(this.project, pr.number, {
        // `auto_merge` replaced `merge_when_pipeline_succeeds` in GitLab 17; older servers ignore it.
        mergeWhenPipelineSucceeds: true,
        autoMerge: true,
        squash: method === 'squash'
      } as never)
    } catch (e) {
      const status = statusOf(e)
      if (status === 405 || status === 406 || status === 422) {
        throw new OperationError(
          `GitLab refused to set auto-merge on !${pr.number}: HTTP ${status} ${errorText(e)}; the merge request must be mergeable (not a draft, no conflicts, pipelines allowed to succeed) and the token needs the Developer role`,
          {cause: e}
        )
      }
      throw this.translate(`set auto-merge on !${pr.number}`, e)
    }
  }

  async getDefaultBranch(): Promise<string> {
    const project = (await this.call(`read project ${this.project}`, () =>
      this.api.Projects.show(this.project)
    )) as unknown as {default_branch: string}
    return project.default_branch
  }

  private async show(pr: PullRequest): Promise<RestMergeRequest> {
    return (await this.call(`read merge request !${pr.number}`, () =>
      this.api.MergeRequests.show(this.project, pr.number)
    )) as unknown as RestMergeRequest
  }

  private async resolveUsers(usernames: string[]): Promise<number[]> {
    const ids: number[] = []
    for (const raw of usernames) {
      const name = raw.replace(/^@/, '')
      let id = this.userIds.get(name)
      if (id === undefined) {
        const found = (await this.call(`look up user ${name}`, () =>
          this.api.Users.all({username: name} as never)
        )) as unknown as {id: number; username: string}[]
        const user = found.find(u => u.username.toLowerCase() === name.toLowerCase())
        if (!user) {
          throw new OperationError(
            `GitLab has no user '${name}'; check the spelling of --reviewers / --assignees`
          )
        }
        id = user.id
        this.userIds.set(name, id)
      }
      ids.push(id)
    }
    return ids
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw this.translate(what, e)
    }
  }

  private translate(what: string, e: unknown): Error {
    if (e instanceof UsageError || e instanceof OperationError) return e
    const status = statusOf(e)
    const text = errorText(e)
    const where = `${this.options.apiUrl} (${this.project})`
    const fix =
      status === undefined
        ? `check that ${this.options.apiUrl} is reachable (--api-url)`
        : gitLabStatusFix(status)
    return new OperationError(
      `GitLab could not ${what} at ${where}: ${status ? `HTTP ${status} ` : ''}${text}; ${fix}`,
      {cause: e}
    )
  }
}

export function isDraftTitle(title: string): boolean {
  return /^\s*(\[draft\]|\(draft\)|draft:|draft\s-\s)/i.test(title)
}

function toPullRequest(m: RestMergeRequest): PullRequest {
  return {
    number: m.iid,
    url: m.web_url,
    head: m.source_branch,
    base: m.target_branch,
    title: m.title,
    body: m.description ?? '',
    draft: m.draft === true || m.work_in_progress === true || isDraftTitle(m.title),
    labels: m.labels ?? [],
    autoMerge: m.merge_when_pipeline_succeeds === true
  }
}

function union(a: number[], b: number[]): number[] {
  return [...new Set([...a, ...b])]
}
