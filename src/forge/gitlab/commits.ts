import {OperationError, errorMessage} from '../../core/errors.js'
import {gitLabStatusFix} from './status.js'
import {errorText, gitLabClient, statusOf, type GitLabClient} from './client.js'
import {backoffDelay, DEFAULT_BACKOFF, pause, type Backoff} from '../../core/backoff.js'
import {
  entryKind,
  type BranchApi,
  type CommitAttempt,
  type Comparison,
  type RemoteFile,
  type RepoApi,
  type TreeEntry,
  type Verification
} from '../repo-api.js'

export interface GitLabRepoApiOptions {
  /** `https://host/api/v4` */
  apiUrl: string
  /** group/sub/project */
  project: string
  token: string
  timeoutMs?: number
  /**
   * Tries per read when GitLab answers 5xx or the connection breaks; the
   * same budget Octokit's retry plugin gives the GitHub calls. Default 3.
   * (gitbeaker replays a 429 or 502 up to 10 times inside one try.)
   */
  readAttempts?: number
  backoff?: Backoff
}

/** Connection failures worth another try; refused or unknown hosts are not (wrong --api-url). */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT'
])

function transientFetchError(e: unknown): boolean {
  const name = (e as {name?: string}).name
  // gitbeaker turns fetch's TimeoutError (its queryTimeout) into GitbeakerTimeoutError.
  if (name === 'TimeoutError' || name === 'GitbeakerTimeoutError') return true
  const code = (e as {cause?: {code?: string}}).cause?.code
  return code !== undefined && TRANSIENT_CODES.has(code)
}

/** What a call answered: the data, or a status the caller said it handles. */
type Answer<T> = {ok: true; data: T} | {ok: false; status: number; message: string}

interface RestTreeEntry {
  path: string
  type: string
  mode: string
  id: string
}

interface RestFile {
  content: string
  encoding: string
  blob_id: string
  last_commit_id: string
}

interface RestCompare {
  commits?: {
    id: string
    message: string
    author_name: string
    author_email: string
    parent_ids?: string[]
  }[]
  diffs?: {new_path: string; old_path: string; deleted_file?: boolean}[]
  compare_timeout?: boolean
}

/**
 * GitLab through REST v4: the repository tree and files APIs for reading,
 * `POST /projects/:id/repository/commits` for the commit. Every updated
 * file carries the `last_commit_id` it was read at, so GitLab refuses the
 * commit when that file changed meanwhile, while writers to other files
 * commit on top of each other without a retry.
 *
 * Reads go through @gitbeaker/rest, the client pulls.ts uses. The commit
 * POST does not: gitbeaker replays every 429/502 answer up to 10 times for
 * any method (constants in its request handler), and a commit that landed
 * behind a proxy's 502 would be replayed, refused as stale, re-planned and
 * reported as "unchanged" although this run made it. See postCommit.
 */
export class GitLabRepoApi implements BranchApi {
  readonly provider = 'gitlab' as const
  /** Calls made (a try of a read counts once; gitbeaker's own 429/502 replays are not seen here). */
  readonly stats = {requests: 0}
  readonly where: string
  private readonly api: GitLabClient
  private readonly apiUrl: string
  private readonly project: string
  private readonly timeoutMs: number

  constructor(private readonly options: GitLabRepoApiOptions) {
    this.apiUrl = options.apiUrl.replace(/\/+$/, '')
    this.project = options.project
    this.timeoutMs = options.timeoutMs ?? 120_000
    this.api = gitLabClient({apiUrl: this.apiUrl, token: options.token, timeoutMs: this.timeoutMs})
    this.where = `${this.apiUrl} (${options.project})`
  }

  /**
   * One read through gitbeaker, tried again on 5xx and dropped connections
   * with the shared backoff; statuses in `accept` are answers, not errors.
   */
  private async read<T>(
    what: string,
    fn: (api: GitLabClient) => Promise<T>,
    accept: number[] = []
  ): Promise<Answer<T>> {
    const attempts = this.options.readAttempts ?? 3
    const backoff = this.options.backoff ?? DEFAULT_BACKOFF
    for (let attempt = 1; ; attempt++) {
      const started = Date.now()
      const last = attempt >= attempts
      this.stats.requests++
      try {
        return {ok: true, data: await fn(this.api)}
      } catch (e) {
        const status = statusOf(e)
        if (status === undefined) {
          const replayed = replayedStatus(e)
          // gitbeaker already replayed a 429/502 ten times: another round would be thirty.
          if (replayed !== undefined) throw this.failure(what, replayed, '', 10)
          if (!last && transientFetchError(e)) {
            await pause(backoff, backoffDelay(attempt, backoff, Date.now() - started))
            continue
          }
          throw this.unreachable(what, e, attempt)
        }
        const message = messageOf(errorText(e))
        if (accept.includes(status)) return {ok: false, status, message}
        if (status >= 500 && !last) {
          await pause(backoff, backoffDelay(attempt, backoff, Date.now() - started))
          continue
        }
        throw this.failure(what, status, message, attempt)
      }
    }
  }

  /** A read whose every non-2xx answer is an error. */
  private async get<T>(what: string, fn: (api: GitLabClient) => Promise<T>): Promise<T> {
    const r = await this.read(what, fn)
    if (!r.ok) throw this.failure(what, r.status, r.message)
    return r.data
  }

  private unreachable(what: string, e: unknown, attempts: number): OperationError {
    const retried = attempts > 1 ? ` (after ${attempts} attempts)` : ''
    return new OperationError(
      `GitLab could not ${what}: ${this.where} is unreachable${retried} (${errorMessage(e)}); check --api-url and the network, then re-run`
    )
  }

  private failure(what: string, status: number, message: string, attempts = 1): OperationError {
    const retried = attempts > 1 ? ` (after ${attempts} attempts)` : ''
    return new OperationError(
      `GitLab could not ${what} at ${this.where}: HTTP ${status}${retried}${message ? ` ${message}` : ''}; ${gitLabStatusFix(status)}`
    )
  }

  async defaultBranch(): Promise<string> {
    const project = await this.get(`read project ${this.project}`, api =>
      api.Projects.show(this.project)
    )
    return (project as unknown as {default_branch: string}).default_branch
  }

  async branchHead(branch: string): Promise<string | undefined> {
    const r = await this.read(
      `read branch ${branch}`,
      api => api.Branches.show(this.project, branch),
      [404]
    )
    if (!r.ok) return undefined
    return (r.data as unknown as {commit: {id: string}}).commit.id
  }

  private async tree(
    commit: string,
    dir: string,
    recursive: boolean
  ): Promise<TreeEntry[] | undefined> {
    const entries: TreeEntry[] = []
    for (let page = 1; ;) {
      const r = await this.read(
        `list ${dir || 'the root'}`,
        api =>
          // One page per call (`page` stops gitbeaker following Link headers), so a retry
          // re-reads that page only; showExpanded gives GitLab's x-next-page.
          api.Repositories.allRepositoryTrees(this.project, {
            ref: commit,
            perPage: 100,
            page,
            ...(dir ? {path: dir} : {}),
            ...(recursive ? {recursive: true} : {}),
            showExpanded: true
          } as never) as unknown as Promise<{
            data: RestTreeEntry[]
            paginationInfo: {next: number | null}
          }>,
        [404]
      )
      if (!r.ok) return undefined
      for (const e of r.data.data) {
        entries.push({path: e.path, kind: entryKind(e.type, e.mode), sha: e.id})
      }
      const next = r.data.paginationInfo.next
      if (!next) return entries
      page = next
    }
  }

  listDir(commit: string, dir: string): Promise<TreeEntry[] | undefined> {
    return this.tree(commit, dir, false)
  }

  async listTree(
    commit: string
  ): Promise<{kind: 'listed'; entries: TreeEntry[]} | {kind: 'truncated'}> {
    return {kind: 'listed', entries: (await this.tree(commit, '', true)) ?? []}
  }

  async readFile(commit: string, path: string, known?: TreeEntry): Promise<RemoteFile | undefined> {
    if (known?.kind === 'link') return {kind: 'link'}
    if (known?.kind === 'dir') return {kind: 'dir'}
    const r = await this.read(
      `read ${path}`,
      api => api.RepositoryFiles.show(this.project, path, commit),
      [404]
    )
    if (!r.ok) return undefined
    const f = r.data as unknown as RestFile
    return {
      kind: 'file',
      content: Buffer.from(f.content, f.encoding === 'base64' ? 'base64' : 'utf8'),
      sha: f.blob_id,
      lastCommitId: f.last_commit_id
    }
  }

  async compare(base: string, head: string): Promise<Comparison> {
    const data = (await this.get(`compare ${base.slice(0, 12)}...${head.slice(0, 12)}`, api =>
      api.Repositories.compare(this.project, base, head)
    )) as unknown as RestCompare
    const commits = data.commits ?? []
    const diffs = data.diffs ?? []
    return {
      containsBase: head === base || commits.some(c => (c.parent_ids ?? []).includes(base)),
      commits: commits.map(c => ({
        sha: c.id,
        author: `${c.author_name} <${c.author_email}>`,
        message: c.message
      })),
      // The head itself must be among the listed commits, or the list says nothing about it.
      complete: commits.length === 0 || commits.some(c => c.id === head),
      ...(data.compare_timeout
        ? {}
        : {
            files: diffs.flatMap(d => [
              {path: d.new_path, removed: d.deleted_file === true},
              ...(d.old_path !== d.new_path ? [{path: d.old_path, removed: true}] : [])
            ])
          })
    }
  }

  /**
   * The commits API with `start_sha` makes the commit on the parent and
   * creates the branch when it is missing; `force` lets it overwrite an
   * existing branch. That overwrite has no compare-and-swap, so the branch is
   * read again right before; a foreign push in that one round trip is the
   * remaining race. A branch created meanwhile answers "already exists":
   * stale.
   */
  async replaceBranch(input: Parameters<BranchApi['replaceBranch']>[0]): Promise<CommitAttempt> {
    if (input.expected !== undefined) {
      const now = await this.branchHead(input.branch)
      if (now !== input.expected) {
        return {
          kind: 'stale',
          detail: `${input.branch} moved from ${input.expected.slice(0, 12)} to ${now ? now.slice(0, 12) : '(deleted)'}`
        }
      }
    }
    return this.commitWith(input, {
      start_sha: input.parent,
      ...(input.expected !== undefined ? {force: true} : {})
    })
  }

  commit(input: Parameters<RepoApi['commit']>[0]): Promise<CommitAttempt> {
    return this.commitWith(input, {})
  }

  private async commitWith(
    input: Parameters<RepoApi['commit']>[0],
    extra: Record<string, unknown>
  ): Promise<CommitAttempt> {
    const r = await this.postCommit(`commit to ${input.branch}`, {
      ...extra,
      branch: input.branch,
      commit_message: input.message,
      author_name: input.author.name,
      author_email: input.author.email,
      actions: input.writes.map(w => ({
        action: w.exists ? 'update' : 'create',
        file_path: w.path,
        content: w.content.toString('base64'),
        encoding: 'base64',
        ...(w.exists && w.lastCommitId ? {last_commit_id: w.lastCommitId} : {})
      }))
    })
    if (r.status === 201 || r.status === 200)
      return {kind: 'committed', commit: (r.data as {id: string}).id}
    const message = messageOf(r.data)
    // The file changed since we read it, or a file we create appeared; GitLab's ref update lost a race.
    if (
      /has changed since you started editing it|already exists|doesn't exist|Please refresh and try again/i.test(
        message
      )
    ) {
      return {kind: 'stale', detail: message}
    }
    if (r.status === 403 || /not allowed to push|protected branch/i.test(message)) {
      return {kind: 'rejected', reason: 'protected', detail: message}
    }
    return {kind: 'rejected', reason: 'other', detail: `HTTP ${r.status} ${message}`}
  }

  /**
   * `POST /projects/:id/repository/commits`, once, on `fetch`: the one call
   * not made through gitbeaker, whose request handler replays a 429 or 502
   * up to 10 times whatever the method (measured: 10 POSTs in under half a
   * second, no way to turn it off short of a requester of our own). After a
   * 5xx the commit's outcome is unknown, so the run fails with the status
   * and the fix; a re-run re-plans on the branch as it is then (a commit
   * that did land makes it a no-op). 400/403/409 are answers: stale or
   * rejected, decided by the caller.
   */
  private async postCommit(
    what: string,
    body: Record<string, unknown>
  ): Promise<{status: number; data: unknown}> {
    const url = `${this.apiUrl}/projects/${encodeURIComponent(this.project)}/repository/commits`
    this.stats.requests++
    let res: Response
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: {
          'PRIVATE-TOKEN': this.options.token,
          accept: 'application/json',
          'content-type': 'application/json'
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs)
      })
    } catch (e) {
      throw this.unreachable(what, e, 1)
    }
    const text = await res.text()
    let data: unknown = text
    try {
      data = text ? JSON.parse(text) : undefined
    } catch {
      // Proxies answer HTML; keep the text for the message.
    }
    if (res.ok || [400, 403, 409].includes(res.status)) return {status: res.status, data}
    throw this.failure(what, res.status, messageOf(data))
  }

  /** GitLab's signature API answers 404 for a commit without a signature. */
  async verification(commit: string): Promise<Verification | undefined> {
    const r = await this.read(
      `read the signature of ${commit.slice(0, 12)}`,
      api => api.Commits.showGPGSignature(this.project, commit),
      [404]
    )
    if (!r.ok) return {verified: false, reason: 'unsigned'}
    const status = String(
      (r.data as unknown as {verification_status?: string}).verification_status ?? 'unknown'
    )
    return {verified: status === 'verified', reason: status}
  }
}

/** gitbeaker's GitbeakerRetryError names the status it gave up on in its message only. */
function replayedStatus(e: unknown): number | undefined {
  if ((e as {name?: string}).name !== 'GitbeakerRetryError') return undefined
  const m = /last status code: (\d{3})/.exec(errorMessage(e))
  return m ? Number(m[1]) : undefined
}

/**
 * GitLab's `message` (or `error`) as one line. gitbeaker hands over a
 * string, JSON-encoded when GitLab sent a list or an object.
 */
function messageOf(data: unknown): string {
  if (typeof data === 'string') {
    if (/^\s*[[{]/.test(data)) {
      try {
        return messageOf({message: JSON.parse(data) as unknown})
      } catch {
        // Not JSON after all.
      }
    }
    return data.slice(0, 200)
  }
  const d = data as {message?: unknown; error?: unknown} | undefined
  const m = d?.message ?? d?.error
  if (Array.isArray(m)) return m.join('; ')
  if (m && typeof m === 'object') return JSON.stringify(m)
  return String(m ?? '')
}
