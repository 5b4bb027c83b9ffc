import {OperationError, errorMessage} from '../../core/errors.js'
import {gitLabStatusFix} from './status.js'
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
  if ((e as {name?: string}).name === 'TimeoutError') return true
  const code = (e as {cause?: {code?: string}}).cause?.code
  return code !== undefined && TRANSIENT_CODES.has(code)
}

interface Answer {
  status: number
  data: unknown
  headers: Headers
}

/**
 * GitLab through REST v4: the repository tree and files APIs for reading,
 * `POST /projects/:id/repository/commits` for the commit. Every updated
 * file carries the `last_commit_id` it was read at, so GitLab refuses the
 * commit when that file changed meanwhile, while writers to other files
 * commit on top of each other without a retry.
 */
export class GitLabRepoApi implements BranchApi {
  readonly provider = 'gitlab' as const
  readonly stats = {requests: 0}
  readonly where: string
  private readonly base: string

  constructor(private readonly options: GitLabRepoApiOptions) {
    const api = options.apiUrl.replace(/\/+$/, '')
    this.base = `${api}/projects/${encodeURIComponent(options.project)}`
    this.where = `${api} (${options.project})`
  }

  private async call(
    method: string,
    path: string,
    what: string,
    options: {query?: Record<string, string>; body?: unknown; accept?: number[]} = {}
  ): Promise<Answer> {
    const url = new URL(this.base + path)
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v)
    // Reads are retried on 5xx and dropped connections. The commit POST is not: after a 5xx
    // its outcome is unknown, so the run fails with the status and the fix; a re-run re-plans
    // on the branch as it is then (a commit that did land makes it a no-op).
    const idempotent = method === 'GET' || method === 'HEAD'
    const attempts = idempotent ? (this.options.readAttempts ?? 3) : 1
    const backoff = this.options.backoff ?? DEFAULT_BACKOFF
    for (let attempt = 1; ; attempt++) {
      const started = Date.now()
      const last = attempt >= attempts
      const retried = attempt > 1 ? ` (after ${attempt} attempts)` : ''
      this.stats.requests++
      let res: Response
      try {
        res = await fetch(url, {
          method,
          headers: {
            'PRIVATE-TOKEN': this.options.token,
            accept: 'application/json',
            ...(options.body !== undefined ? {'content-type': 'application/json'} : {})
          },
          body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 120_000)
        })
      } catch (e) {
        if (!last && transientFetchError(e)) {
          await pause(backoff, backoffDelay(attempt, backoff, Date.now() - started))
          continue
        }
        throw new OperationError(
          `GitLab could not ${what}: ${this.where} is unreachable${retried} (${errorMessage(e)}); check --api-url and the network, then re-run`
        )
      }
      const text = await res.text()
      let data: unknown = text
      try {
        data = text ? JSON.parse(text) : undefined
      } catch {
        // Proxies answer HTML; keep the text for the message.
      }
      if (res.ok || options.accept?.includes(res.status)) {
        return {status: res.status, data, headers: res.headers}
      }
      if (res.status >= 500 && !last) {
        await pause(backoff, backoffDelay(attempt, backoff, Date.now() - started))
        continue
      }
      throw this.failure(what, res.status, data, attempt)
    }
  }

  private failure(what: string, status: number, data: unknown, attempts = 1): OperationError {
    const message = messageOf(data)
    const retried = attempts > 1 ? ` (after ${attempts} attempts)` : ''
    return new OperationError(
      `GitLab could not ${what} at ${this.where}: HTTP ${status}${retried} ${message}; ${gitLabStatusFix(status)}`
    )
  }

  async defaultBranch(): Promise<string> {
    const r = await this.call('GET', '', `read project ${this.options.project}`)
    return (r.data as {default_branch: string}).default_branch
  }

  async branchHead(branch: string): Promise<string | undefined> {
    const r = await this.call(
      'GET',
      `/repository/branches/${encodeURIComponent(branch)}`,
      `read branch ${branch}`,
      {accept: [404]}
    )
    if (r.status === 404) return undefined
    return (r.data as {commit: {id: string}}).commit.id
  }

  private async tree(
    commit: string,
    dir: string,
    recursive: boolean
  ): Promise<TreeEntry[] | undefined> {
    const entries: TreeEntry[] = []
    for (let page = 1; ;) {
      const query: Record<string, string> = {ref: commit, per_page: '100', page: String(page)}
      if (dir) query.path = dir
      if (recursive) query.recursive = 'true'
      const r = await this.call('GET', '/repository/tree', `list ${dir || 'the root'}`, {
        query,
        accept: [404]
      })
      if (r.status === 404) return undefined
      for (const e of r.data as {path: string; type: string; mode: string; id: string}[]) {
        entries.push({path: e.path, kind: entryKind(e.type, e.mode), sha: e.id})
      }
      const next = r.headers.get('x-next-page')
      if (!next) return entries
      page = Number(next)
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
    const r = await this.call(
      'GET',
      `/repository/files/${encodeURIComponent(path)}`,
      `read ${path}`,
      {query: {ref: commit}, accept: [404]}
    )
    if (r.status === 404) return undefined
    const f = r.data as {content: string; encoding: string; blob_id: string; last_commit_id: string}
    return {
      kind: 'file',
      content: Buffer.from(f.content, f.encoding === 'base64' ? 'base64' : 'utf8'),
      sha: f.blob_id,
      lastCommitId: f.last_commit_id
    }
  }

  async compare(base: string, head: string): Promise<Comparison> {
    const r = await this.call(
      'GET',
      '/repository/compare',
      `compare ${base.slice(0, 12)}...${head.slice(0, 12)}`,
      {query: {from: base, to: head}}
    )
    const data = r.data as {
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
    const r = await this.call('POST', '/repository/commits', `commit to ${input.branch}`, {
      body: {
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
      },
      accept: [400, 403, 409]
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

  /** GitLab's signature API answers 404 for a commit without a signature. */
  async verification(commit: string): Promise<Verification | undefined> {
    const r = await this.call(
      'GET',
      `/repository/commits/${commit}/signature`,
      `read the signature of ${commit.slice(0, 12)}`,
      {accept: [404]}
    )
    if (r.status === 404) return {verified: false, reason: 'unsigned'}
    const status = String(
      (r.data as {verification_status?: string}).verification_status ?? 'unknown'
    )
    return {verified: status === 'verified', reason: status}
  }
}

function messageOf(data: unknown): string {
  if (typeof data === 'string') return data.slice(0, 200)
  const d = data as {message?: unknown; error?: unknown} | undefined
  const m = d?.message ?? d?.error
  if (Array.isArray(m)) return m.join('; ')
  if (m && typeof m === 'object') return JSON.stringify(m)
  return String(m ?? '')
}
