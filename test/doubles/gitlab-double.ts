import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {execGit} from '../../src/git/exec.js'
import {branchSha} from './github-double.js'
import {
  commitOnto,
  compareAndSwap,
  lastCommitFor,
  lsTree,
  readBlob,
  revParse
} from './git-plumbing.js'

/**
 * An in-process GitLab REST API v4 for merge requests. State (iids, labels,
 * reviewers, assignees, auto-merge) is kept like GitLab keeps it; branches
 * come from a real bare repository; errors use GitLab's `{message}` shapes;
 * lists paginate with x-next-page/x-total and Link headers. Every request is
 * checked against the documented parameters of its endpoint: an unknown or
 * mistyped parameter is a 400 here and lands in `violations`.
 */

export interface GlProject {
  id: number
  /** group/sub/project */
  path: string
  gitDir: string
  defaultBranch?: string
}

export interface GlUser {
  id: number
  username: string
}

export interface GlMergeRequest {
  id: number
  iid: number
  projectId: number
  title: string
  description: string
  source_branch: string
  target_branch: string
  state: 'opened' | 'closed' | 'merged'
  labels: string[]
  reviewer_ids: number[]
  assignee_ids: number[]
  merge_when_pipeline_succeeds: boolean
  squash: boolean
  /** Note bodies, oldest first (POST /merge_requests/:iid/notes). */
  notes: string[]
}

export interface GlInjectedFailure {
  method?: string
  path?: RegExp
  status: number
  body: unknown
  headers?: Record<string, string>
  times?: number
}

type ParamType = 'string' | 'integer' | 'boolean' | 'integer[]' | 'string-list' | 'actions'

/** Documented parameters per endpoint (docs.gitlab.com/api/merge_requests, /api/users, /api/projects). */
const PARAMS: Record<string, Record<string, ParamType>> = {
  'GET /projects/:id': {
    license: 'boolean',
    statistics: 'boolean',
    with_custom_attributes: 'boolean'
  },
  'GET /projects/:id/merge_requests': {
    state: 'string',
    source_branch: 'string',
    target_branch: 'string',
    labels: 'string-list',
    per_page: 'integer',
    page: 'integer',
    order_by: 'string',
    sort: 'string',
    scope: 'string'
  },
  'POST /projects/:id/merge_requests': {
    source_branch: 'string',
    target_branch: 'string',
    title: 'string',
    description: 'string',
    labels: 'string-list',
    assignee_id: 'integer',
    assignee_ids: 'integer[]',
    reviewer_ids: 'integer[]',
    milestone_id: 'integer',
    remove_source_branch: 'boolean',
    squash: 'boolean',
    allow_collaboration: 'boolean',
    target_project_id: 'integer'
  },
  'GET /projects/:id/merge_requests/:iid': {},
  'PUT /projects/:id/merge_requests/:iid': {
    title: 'string',
    description: 'string',
    labels: 'string-list',
    add_labels: 'string-list',
    remove_labels: 'string-list',
    assignee_id: 'integer',
    assignee_ids: 'integer[]',
    reviewer_ids: 'integer[]',
    state_event: 'string',
    target_branch: 'string',
    remove_source_branch: 'boolean',
    squash: 'boolean',
    milestone_id: 'integer',
    discussion_locked: 'boolean'
  },
  'PUT /projects/:id/merge_requests/:iid/merge': {
    merge_when_pipeline_succeeds: 'boolean',
    auto_merge: 'boolean',
    squash: 'boolean',
    sha: 'string',
    should_remove_source_branch: 'boolean',
    merge_commit_message: 'string',
    squash_commit_message: 'string'
  },
  'POST /projects/:id/merge_requests/:iid/notes': {
    body: 'string',
    created_at: 'string',
    merge_request_diff_head_sha: 'string',
    internal: 'boolean'
  },
  'GET /users': {username: 'string', per_page: 'integer', page: 'integer', active: 'boolean'},
  // docs.gitlab.com/api/branches, /api/repositories, /api/repository_files, /api/commits
  'GET /projects/:id/repository/branches/:branch': {},
  'DELETE /projects/:id/repository/branches/:branch': {},
  'GET /projects/:id/repository/tree': {
    path: 'string',
    ref: 'string',
    recursive: 'boolean',
    per_page: 'integer',
    page: 'integer',
    pagination: 'string',
    page_token: 'string'
  },
  'GET /projects/:id/repository/files/:file_path': {ref: 'string'},
  'POST /projects/:id/repository/commits': {
    branch: 'string',
    commit_message: 'string',
    start_branch: 'string',
    start_sha: 'string',
    start_project: 'string',
    actions: 'actions',
    author_email: 'string',
    author_name: 'string',
    stats: 'boolean',
    force: 'boolean'
  },
  'GET /projects/:id/repository/commits/:sha/signature': {},
  'GET /projects/:id/repository/compare': {
    from: 'string',
    to: 'string',
    from_project_id: 'integer',
    straight: 'boolean',
    unidiff: 'boolean'
  }
}

const REQUIRED: Record<string, string[]> = {
  'POST /projects/:id/merge_requests': ['source_branch', 'target_branch', 'title'],
  'POST /projects/:id/merge_requests/:iid/notes': ['body'],
  'GET /projects/:id/repository/files/:file_path': ['ref'],
  'POST /projects/:id/repository/commits': ['branch', 'commit_message', 'actions'],
  'GET /projects/:id/repository/compare': ['from', 'to'],
  'GET /users': []
}

export class GitLabDouble {
  readonly mergeRequests: GlMergeRequest[] = []
  readonly requests: {
    method: string
    path: string
    status: number
    auth?: string
    body?: unknown
  }[] = []
  readonly violations: string[] = []
  private readonly failures: GlInjectedFailure[] = []
  private nextId = 5000
  /** Whether the project runs pipelines (auto-merge waits for one instead of merging now). */
  hasPipelines = true
  /** Runs before a request is handled; tests use it to simulate a concurrent actor. */
  beforeHandle?: (method: string, path: string) => Promise<void> | void
  /** Round trips and bytes, for the benchmark. */
  readonly stats = {requests: 0, bytesIn: 0, bytesOut: 0}
  /** Commits a real GitLab would report a verified signature for (none by default). */
  readonly signed = new Set<string>()
  /** Commits are created one at a time per project, like Gitaly's ref update under a lock. */
  private readonly commitQueue = new Map<number, Promise<unknown>>()

  private constructor(
    private readonly server: Server,
    readonly apiUrl: string,
    readonly origin: string,
    private readonly projects: GlProject[],
    readonly users: GlUser[],
    private readonly token: string
  ) {}

  static async start(options: {
    projects: GlProject[]
    users?: GlUser[]
    token: string
  }): Promise<GitLabDouble> {
    let self: GitLabDouble | undefined
    const server = createServer((req, res) => {
      void self!.handle(req, res).catch(e => {
        self!.violations.push(`double crashed on ${req.method} ${req.url}: ${String(e)}`)
        send(res, 500, {message: '500 Internal Server Error'})
      })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const {port} = server.address() as AddressInfo
    const origin = `http://127.0.0.1:${port}`
    self = new GitLabDouble(
      server,
      `${origin}/api/v4`,
      origin,
      options.projects,
      options.users ?? [],
      options.token
    )
    return self
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }

  inject(failure: GlInjectedFailure): void {
    this.failures.push({times: 1, ...failure})
  }

  clearFailures(): void {
    this.failures.length = 0
  }

  openMergeRequest(
    m: Partial<GlMergeRequest> & {projectId: number; source_branch: string; target_branch: string}
  ): GlMergeRequest {
    const iid = this.mergeRequests.filter(x => x.projectId === m.projectId).length + 1
    const mr: GlMergeRequest = {
      id: this.nextId++,
      iid,
      title: 'manual',
      description: '',
      state: 'opened',
      labels: [],
      reviewer_ids: [],
      assignee_ids: [],
      merge_when_pipeline_succeeds: false,
      squash: false,
      notes: [],
      ...m
    }
    this.mergeRequests.push(mr)
    return mr
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin)
    const method = req.method ?? 'GET'
    const raw = await readBody(req)
    const record = {
      method,
      path: url.pathname + url.search,
      status: 0,
      auth: String(req.headers['private-token'] ?? req.headers.authorization ?? ''),
      body: undefined as unknown
    }
    this.stats.requests++
    this.stats.bytesIn += Buffer.byteLength(raw)
    const reply = (status: number, data: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({...record, status})
      this.stats.bytesOut += data === undefined ? 0 : Buffer.byteLength(JSON.stringify(data))
      send(res, status, data, headers)
    }
    let body: Record<string, unknown> = {}
    if (raw) {
      try {
        body = JSON.parse(raw) as Record<string, unknown>
        record.body = body
      } catch {
        return reply(400, {error: 'invalid JSON'})
      }
    }
    const token =
      req.headers['private-token'] ?? (req.headers.authorization ?? '').replace(/^Bearer /, '')
    if (token !== this.token) return reply(401, {message: '401 Unauthorized'})
    const path = url.pathname.replace(/^\/api\/v4/, '')
    await this.beforeHandle?.(method, path)
    const failure = this.failures.find(
      f =>
        (f.times ?? 1) > 0 && (!f.method || f.method === method) && (!f.path || f.path.test(path))
    )
    if (failure) {
      failure.times = (failure.times ?? 1) - 1
      return reply(failure.status, failure.body, failure.headers)
    }
    const repoRoute =
      /^\/projects\/([^/]+)\/repository\/(?:(branches)\/([^/]+)|(tree)|(files)\/([^/]+)|(commits)(?:\/([0-9a-f]{7,40})\/(signature))?|(compare))$/.exec(
        path
      )
    if (repoRoute) {
      const key = repoRoute[2]
        ? `${method} /projects/:id/repository/branches/:branch`
        : repoRoute[4]
          ? `${method} /projects/:id/repository/tree`
          : repoRoute[5]
            ? `${method} /projects/:id/repository/files/:file_path`
            : repoRoute[9]
              ? `${method} /projects/:id/repository/commits/:sha/signature`
              : repoRoute[10]
                ? `${method} /projects/:id/repository/compare`
                : `${method} /projects/:id/repository/commits`
      const spec = PARAMS[key]
      if (!spec) {
        this.violations.push(`no GitLab endpoint ${key}`)
        return reply(404, {error: '404 Not Found'})
      }
      const input: Record<string, unknown> = {...body}
      for (const [k, v] of url.searchParams) input[k] = v
      const problems = checkParams(key, spec, input)
      if (problems.length > 0) {
        this.violations.push(`${key}: ${problems.join('; ')}`)
        return reply(400, {error: problems.join(', ')})
      }
      const project = this.projects.find(
        p =>
          String(p.id) === decodeURIComponent(repoRoute[1]) ||
          p.path === decodeURIComponent(repoRoute[1])
      )
      if (!project) return reply(404, {message: '404 Project Not Found'})
      const [status, data, headers] = await this.repository(key, project, input, {
        branch: repoRoute[3] && decodeURIComponent(repoRoute[3]),
        filePath: repoRoute[6] && decodeURIComponent(repoRoute[6]),
        sha: repoRoute[8],
        url,
        path
      })
      return reply(status, data, headers)
    }
    const m =
      /^\/projects\/([^/]+)(\/merge_requests(?:\/(\d+)(\/merge|\/notes)?)?)?$/.exec(
        url.pathname.replace(/^\/api\/v4/, '')
      ) ?? undefined
    let key: string
    if (path === '/users') key = `${method} /users`
    else if (m)
      key = `${method} /projects/:id${m[2] ? '/merge_requests' : ''}${m[3] ? '/:iid' : ''}${m[4] ?? ''}`
    else key = `${method} ${path}`
    const spec = PARAMS[key]
    if (!spec) {
      this.violations.push(`no GitLab endpoint ${key}`)
      return reply(404, {error: '404 Not Found'})
    }
    const input: Record<string, unknown> = {...body}
    for (const [k, v] of url.searchParams)
      input[k.replace(/\[\]$/, '')] = k.endsWith('[]') ? url.searchParams.getAll(k) : v
    const problems = checkParams(key, spec, input)
    if (problems.length > 0) {
      this.violations.push(`${key}: ${problems.join('; ')}`)
      return reply(400, {error: problems.join(', ')})
    }
    if (key === 'GET /users') {
      const list = this.users.filter(u => !input.username || u.username === input.username)
      return reply(
        200,
        list.map(u => ({
          id: u.id,
          username: u.username,
          name: u.username,
          state: 'active',
          web_url: `${this.origin}/${u.username}`
        })),
        pageHeaders(1, 20, list.length)
      )
    }
    const project = this.projects.find(
      p => String(p.id) === decodeURIComponent(m![1]) || p.path === decodeURIComponent(m![1])
    )
    if (!project) return reply(404, {message: '404 Project Not Found'})
    if (key === 'GET /projects/:id') {
      return reply(200, {
        id: project.id,
        path_with_namespace: project.path,
        default_branch: project.defaultBranch ?? 'main',
        web_url: `${this.origin}/${project.path}`
      })
    }
    const mrs = this.mergeRequests.filter(x => x.projectId === project.id)
    if (key === 'GET /projects/:id/merge_requests') {
      let list = [...mrs].sort((a, b) => b.iid - a.iid)
      if (input.state && input.state !== 'all') list = list.filter(x => x.state === input.state)
      if (input.source_branch) list = list.filter(x => x.source_branch === input.source_branch)
      if (input.target_branch) list = list.filter(x => x.target_branch === input.target_branch)
      const perPage = Math.min(Number(input.per_page ?? 20), 100)
      const page = Number(input.page ?? 1)
      const slice = list.slice((page - 1) * perPage, page * perPage)
      const headers = pageHeaders(page, perPage, list.length)
      if (page * perPage < list.length) {
        const q = new URLSearchParams(url.searchParams)
        q.set('page', String(page + 1))
        headers.link = `<${this.apiUrl}${path}?${q}>; rel="next"`
      }
      return reply(
        200,
        slice.map(x => this.mrJson(x, project)),
        headers
      )
    }
    if (key === 'POST /projects/:id/merge_requests') {
      const source = String(input.source_branch)
      const target = String(input.target_branch)
      if (!(await branchSha(project.gitDir, source)))
        return reply(400, {message: [`Source branch "${source}" does not exist`]})
      if (!(await branchSha(project.gitDir, target)))
        return reply(400, {message: [`Target branch "${target}" does not exist`]})
      const dup = mrs.find(
        x => x.state === 'opened' && x.source_branch === source && x.target_branch === target
      )
      if (dup)
        return reply(409, {
          message: [`Another open merge request already exists for this source branch: !${dup.iid}`]
        })
      const mr = this.openMergeRequest({
        projectId: project.id,
        source_branch: source,
        target_branch: target,
        title: String(input.title),
        description: String(input.description ?? ''),
        labels: splitList(input.labels),
        reviewer_ids: (input.reviewer_ids as number[] | undefined) ?? [],
        assignee_ids: (input.assignee_ids as number[] | undefined) ?? []
      })
      return reply(201, this.mrJson(mr, project))
    }
    const mr = mrs.find(x => x.iid === Number(m![3]))
    if (!mr) return reply(404, {message: '404 Not found'})
    if (key === 'GET /projects/:id/merge_requests/:iid') return reply(200, this.mrJson(mr, project))
    if (key === 'PUT /projects/:id/merge_requests/:iid') {
      if (typeof input.title === 'string') mr.title = input.title
      if (typeof input.description === 'string') mr.description = input.description
      if (input.labels !== undefined) mr.labels = splitList(input.labels)
      for (const l of splitList(input.add_labels)) if (!mr.labels.includes(l)) mr.labels.push(l)
      if (input.reviewer_ids)
        mr.reviewer_ids = (input.reviewer_ids as number[]).filter(id =>
          this.users.some(u => u.id === id)
        )
      if (input.assignee_ids)
        mr.assignee_ids = (input.assignee_ids as number[]).filter(id =>
          this.users.some(u => u.id === id)
        )
      if (input.state_event === 'close') mr.state = 'closed'
      return reply(200, this.mrJson(mr, project))
    }
    if (key === 'POST /projects/:id/merge_requests/:iid/notes') {
      mr.notes.push(String(input.body))
      return reply(201, {
        id: mr.notes.length,
        type: null,
        body: input.body,
        author: {id: 1, username: 'gitops-bot', name: 'gitops-bot', state: 'active'},
        created_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
        system: false,
        noteable_id: mr.iid,
        noteable_type: 'MergeRequest',
        noteable_iid: mr.iid,
        resolvable: false,
        confidential: false,
        internal: false
      })
    }
    // PUT …/merge
    if (mr.state !== 'opened' || /^draft:/i.test(mr.title))
      return reply(405, {message: '405 Method Not Allowed'})
    mr.squash = input.squash === true
    if (
      this.hasPipelines &&
      (input.merge_when_pipeline_succeeds === true || input.auto_merge === true)
    ) {
      mr.merge_when_pipeline_succeeds = true
    } else mr.state = 'merged'
    return reply(200, this.mrJson(mr, project))
  }

  /** Repository endpoints (branches, tree, files, commits), served from the real bare repository. */
  private async repository(
    key: string,
    project: GlProject,
    input: Record<string, unknown>,
    at: {branch?: string; filePath?: string; sha?: string; url: URL; path: string}
  ): Promise<[number, unknown, Record<string, string>?]> {
    const resolve = async (ref: string) =>
      (await revParse(project.gitDir, `refs/heads/${ref}^{commit}`)) ??
      (/^[0-9a-f]{7,40}$/.test(ref) ? await revParse(project.gitDir, `${ref}^{commit}`) : undefined)
    switch (key) {
      case 'GET /projects/:id/repository/branches/:branch': {
        const sha = await branchSha(project.gitDir, at.branch!)
        if (!sha) return [404, {message: '404 Branch Not Found'}]
        return [
          200,
          {
            name: at.branch,
            commit: {id: sha, short_id: sha.slice(0, 8)},
            merged: false,
            protected: false,
            default: at.branch === (project.defaultBranch ?? 'main'),
            web_url: `${this.origin}/${project.path}/-/tree/${at.branch}`
          }
        ]
      }
      case 'DELETE /projects/:id/repository/branches/:branch': {
        if (!(await branchSha(project.gitDir, at.branch!)))
          return [404, {message: '404 Branch Not Found'}]
        if (at.branch === (project.defaultBranch ?? 'main'))
          return [405, {message: '405 Method Not Allowed'}]
        await execGit(['update-ref', '-d', `refs/heads/${at.branch}`], {cwd: project.gitDir})
        for (const x of this.mergeRequests)
          if (x.projectId === project.id && x.state === 'opened' && x.source_branch === at.branch)
            x.state = 'closed'
        return [204, undefined]
      }
      case 'GET /projects/:id/repository/tree': {
        const commit = await resolve(String(input.ref ?? project.defaultBranch ?? 'main'))
        if (!commit) return [404, {message: '404 Tree Not Found'}]
        const dir = String(input.path ?? '').replace(/\/+$/, '')
        if (dir) {
          const [self] = await lsTree(project.gitDir, commit, {path: dir})
          if (!self || self.type !== 'tree') return [404, {message: '404 Tree Not Found'}]
        }
        const recursive = input.recursive === true || input.recursive === 'true'
        const entries = await lsTree(project.gitDir, dir ? `${commit}:${dir}` : commit, {recursive})
        const list = entries.map(e => {
          const full = dir ? `${dir}/${e.path}` : e.path
          return {
            id: e.sha,
            name: full.slice(full.lastIndexOf('/') + 1),
            type: e.type,
            path: full,
            mode: e.mode
          }
        })
        const perPage = Math.min(Number(input.per_page ?? 20), 100)
        const page = Number(input.page ?? 1)
        const headers = pageHeaders(page, perPage, list.length)
        if (page * perPage < list.length) {
          const q = new URLSearchParams(at.url.searchParams)
          q.set('page', String(page + 1))
          headers.link = `<${this.apiUrl}${at.path}?${q}>; rel="next"`
        }
        return [200, list.slice((page - 1) * perPage, page * perPage), headers]
      }
      case 'GET /projects/:id/repository/files/:file_path': {
        const commit = await resolve(String(input.ref))
        const [self] = commit ? await lsTree(project.gitDir, commit, {path: at.filePath}) : []
        if (!commit || !self || self.path !== at.filePath || self.type !== 'blob')
          return [404, {message: '404 File Not Found'}]
        const bytes = (await readBlob(project.gitDir, self.sha)) ?? Buffer.alloc(0)
        return [
          200,
          {
            file_name: at.filePath!.slice(at.filePath!.lastIndexOf('/') + 1),
            file_path: at.filePath,
            size: bytes.length,
            encoding: 'base64',
            content_sha256: '',
            ref: input.ref,
            blob_id: self.sha,
            commit_id: commit,
            last_commit_id: await lastCommitFor(project.gitDir, commit, at.filePath!),
            execute_filemode: self.mode === '100755',
            content: bytes.toString('base64')
          }
        ]
      }
      case 'GET /projects/:id/repository/commits/:sha/signature':
        return this.signed.has(at.sha!)
          ? [
              200,
              {
                signature_type: 'SSH',
                verification_status: 'verified',
                commit_source: 'gitaly'
              }
            ]
          : [404, {message: '404 Signature Not Found'}]
      case 'GET /projects/:id/repository/compare': {
        const from = await resolve(String(input.from))
        const to = await resolve(String(input.to))
        if (!from || !to) return [404, {message: '404 Ref Not Found'}]
        const straight = input.straight === true || input.straight === 'true'
        const start = straight
          ? from
          : (await execGit(['merge-base', from, to], {cwd: project.gitDir})).stdout.trim()
        const shas = (
          await execGit(['rev-list', '--reverse', `${from}..${to}`], {cwd: project.gitDir})
        ).stdout
          .split('\n')
          .filter(Boolean)
        const commits = await Promise.all(shas.map(sha => this.commitJson(project, sha)))
        const raw = (
          await execGit(['diff', '--raw', '--no-renames', '-z', start, to], {cwd: project.gitDir})
        ).stdout
          .split('\0')
          .filter(Boolean)
        const diffs: unknown[] = []
        for (let i = 0; i + 1 < raw.length; i += 2) {
          const [aMode, bMode, , , letter] = raw[i].replace(/^:/, '').split(' ')
          diffs.push({
            old_path: raw[i + 1],
            new_path: raw[i + 1],
            a_mode: aMode,
            b_mode: bMode,
            new_file: letter === 'A',
            renamed_file: false,
            deleted_file: letter === 'D',
            diff: ''
          })
        }
        return [
          200,
          {
            commit: commits.length ? commits[commits.length - 1] : null,
            commits,
            diffs,
            compare_timeout: false,
            compare_same_ref: from === to,
            web_url: `${this.origin}/${project.path}/-/compare/${from}...${to}`
          }
        ]
      }
      case 'POST /projects/:id/repository/commits': {
        // One commit at a time per project: the checks and the ref update are atomic, as in GitLab.
        const previous = this.commitQueue.get(project.id) ?? Promise.resolve()
        const run = previous.then(() => this.createCommit(project, input))
        this.commitQueue.set(
          project.id,
          run.catch(() => undefined)
        )
        return run
      }
    }
    return [404, {error: '404 Not Found'}]
  }

  private async createCommit(
    project: GlProject,
    input: Record<string, unknown>
  ): Promise<[number, unknown]> {
    const branch = String(input.branch)
    const current = await branchSha(project.gitDir, branch)
    // start_sha / start_branch: the commit's parent, and a new branch starts there (GitLab's Commits::CreateService).
    const startSha = input.start_sha === undefined ? undefined : String(input.start_sha)
    const startBranch = input.start_branch === undefined ? undefined : String(input.start_branch)
    const force = input.force === true || input.force === 'true'
    const different =
      startSha !== undefined || (startBranch !== undefined && startBranch !== branch)
    if (different && current && !force)
      return [
        400,
        {
          message: `A branch called '${branch}' already exists. Switch to that branch in order to make changes`
        }
      ]
    const head = startSha
      ? await revParse(project.gitDir, `${startSha}^{commit}`)
      : startBranch
        ? await branchSha(project.gitDir, startBranch)
        : current
    if (startSha && !head) return [400, {message: `Invalid start sha '${startSha}'`}]
    if (startBranch && !head) return [400, {message: `Invalid reference name: ${startBranch}`}]
    if (!head) return [400, {message: 'You can only create or edit files when you are on a branch'}]
    const actions = input.actions as GlAction[]
    const changes: {path: string; content: Buffer | null}[] = []
    for (const a of actions) {
      const [self] = await lsTree(project.gitDir, head, {path: a.file_path})
      const exists = self?.path === a.file_path && self.type === 'blob'
      if (a.action === 'create' && exists)
        return [400, {message: 'A file with this name already exists'}]
      if ((a.action === 'update' || a.action === 'delete') && !exists)
        return [400, {message: "A file with this name doesn't exist"}]
      if (a.last_commit_id !== undefined && a.action !== 'create') {
        const last = await lastCommitFor(project.gitDir, head, a.file_path)
        if (last !== a.last_commit_id)
          return [
            400,
            {
              message:
                'You are attempting to update a file that has changed since you started editing it.'
            }
          ]
      }
      changes.push({
        path: a.file_path,
        content:
          a.action === 'delete'
            ? null
            : Buffer.from(a.content ?? '', a.encoding === 'base64' ? 'base64' : 'utf8')
      })
    }
    const author = {
      name: String(input.author_name ?? 'Project Bot'),
      email: String(input.author_email ?? 'project-bot@noreply.gitlab.example')
    }
    const commit = await commitOnto(
      project.gitDir,
      head,
      changes,
      String(input.commit_message).replace(/\n*$/, '\n'),
      author
    )
    // A git push may still race us: GitLab answers that with this message. `force` overwrites whatever is there.
    const swapped = force
      ? (await execGit(['update-ref', `refs/heads/${branch}`, commit], {cwd: project.gitDir}))
          .code === 0
      : await compareAndSwap(project.gitDir, branch, commit, current ?? '0'.repeat(40))
    if (!swapped) {
      return [
        400,
        {message: `Could not update refs/heads/${branch}. Please refresh and try again.`}
      ]
    }
    return [
      201,
      {
        id: commit,
        short_id: commit.slice(0, 8),
        title: String(input.commit_message).split('\n')[0],
        message: input.commit_message,
        author_name: author.name,
        author_email: author.email,
        parent_ids: [head],
        web_url: `${this.origin}/${project.path}/-/commit/${commit}`
      }
    ]
  }

  private async commitJson(project: GlProject, sha: string): Promise<unknown> {
    const out = await execGit(['log', '-1', '--format=%an%x00%ae%x00%B%x00%P', sha], {
      cwd: project.gitDir
    })
    const [an, ae, message, parents] = out.stdout.split('\0')
    return {
      id: sha,
      short_id: sha.slice(0, 8),
      title: message.split('\n')[0],
      message,
      author_name: an,
      author_email: ae,
      authored_date: '2026-01-01T00:00:00.000Z',
      committer_name: an,
      committer_email: ae,
      committed_date: '2026-01-01T00:00:00.000Z',
      created_at: '2026-01-01T00:00:00.000Z',
      parent_ids: parents.trim().split(' ').filter(Boolean),
      web_url: `${this.origin}/${project.path}/-/commit/${sha}`
    }
  }

  private mrJson(mr: GlMergeRequest, project: GlProject): unknown {
    const user = (id: number) => {
      const u = this.users.find(x => x.id === id)!
      return {id: u.id, username: u.username, name: u.username, state: 'active'}
    }
    return {
      id: mr.id,
      iid: mr.iid,
      project_id: project.id,
      title: mr.title,
      description: mr.description,
      state: mr.state,
      source_branch: mr.source_branch,
      target_branch: mr.target_branch,
      draft: /^draft:/i.test(mr.title),
      work_in_progress: /^draft:/i.test(mr.title),
      labels: mr.labels,
      reviewers: mr.reviewer_ids.map(user),
      assignees: mr.assignee_ids.map(user),
      merge_when_pipeline_succeeds: mr.merge_when_pipeline_succeeds,
      squash: mr.squash,
      web_url: `${this.origin}/${project.path}/-/merge_requests/${mr.iid}`
    }
  }
}

interface GlAction {
  action: 'create' | 'delete' | 'move' | 'update' | 'chmod'
  file_path: string
  previous_path?: string
  content?: string
  encoding?: 'text' | 'base64'
  last_commit_id?: string
  execute_filemode?: boolean
}

/** The `actions[]` attributes of POST /projects/:id/repository/commits. */
function checkActions(v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0) return ['actions must be a non-empty array']
  const allowed = [
    'action',
    'file_path',
    'previous_path',
    'content',
    'encoding',
    'last_commit_id',
    'execute_filemode'
  ]
  const problems: string[] = []
  v.forEach((a: Record<string, unknown>, i) => {
    for (const k of Object.keys(a))
      if (!allowed.includes(k)) problems.push(`actions[${i}] has unknown attribute ${k}`)
    if (!['create', 'delete', 'move', 'update', 'chmod'].includes(String(a.action)))
      problems.push(`actions[${i}][action] does not have a valid value`)
    if (typeof a.file_path !== 'string' || !a.file_path)
      problems.push(`actions[${i}][file_path] is missing`)
    if (a.encoding !== undefined && a.encoding !== 'text' && a.encoding !== 'base64')
      problems.push(`actions[${i}][encoding] does not have a valid value`)
    for (const k of ['content', 'last_commit_id', 'previous_path'])
      if (a[k] !== undefined && typeof a[k] !== 'string')
        problems.push(`actions[${i}][${k}] is invalid`)
  })
  return problems
}

function checkParams(
  key: string,
  spec: Record<string, ParamType>,
  input: Record<string, unknown>
): string[] {
  const problems: string[] = []
  for (const [k, v] of Object.entries(input)) {
    const type = spec[k]
    if (!type) {
      problems.push(`unknown parameter ${k}`)
      continue
    }
    if (type === 'actions') {
      problems.push(...checkActions(v))
      continue
    }
    const ok =
      type === 'string'
        ? typeof v === 'string'
        : type === 'integer'
          ? Number.isInteger(typeof v === 'string' ? Number(v) : v)
          : type === 'boolean'
            ? typeof v === 'boolean' || v === 'true' || v === 'false'
            : type === 'integer[]'
              ? Array.isArray(v) &&
                v.every(x => Number.isInteger(typeof x === 'string' ? Number(x) : x))
              : typeof v === 'string' || (Array.isArray(v) && v.every(x => typeof x === 'string'))
    if (!ok) problems.push(`${k} must be ${type}, got ${JSON.stringify(v)}`)
  }
  for (const k of REQUIRED[key] ?? []) if (input[k] === undefined) problems.push(`${k} is missing`)
  return problems
}

function splitList(v: unknown): string[] {
  if (v === undefined) return []
  const list = Array.isArray(v) ? (v as string[]) : String(v).split(',')
  return list.map(s => s.trim()).filter(Boolean)
}

function pageHeaders(page: number, perPage: number, total: number): Record<string, string> {
  const pages = Math.max(Math.ceil(total / perPage), 1)
  return {
    'x-page': String(page),
    'x-per-page': String(perPage),
    'x-total': String(total),
    'x-total-pages': String(pages),
    'x-next-page': page < pages ? String(page + 1) : '',
    'x-prev-page': page > 1 ? String(page - 1) : ''
  }
}

function send(
  res: ServerResponse,
  status: number,
  data: unknown,
  headers: Record<string, string> = {}
): void {
  res.writeHead(status, {'content-type': 'application/json', ...headers})
  res.end(data === undefined ? '' : JSON.stringify(data))
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
