import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {branchSha} from './github-double.js'

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
}

export interface GlInjectedFailure {
  method?: string
  path?: RegExp
  status: number
  body: unknown
  headers?: Record<string, string>
  times?: number
}

type ParamType = 'string' | 'integer' | 'boolean' | 'integer[]' | 'string-list'

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
  'GET /users': {username: 'string', per_page: 'integer', page: 'integer', active: 'boolean'}
}

const REQUIRED: Record<string, string[]> = {
  'POST /projects/:id/merge_requests': ['source_branch', 'target_branch', 'title'],
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
    const reply = (status: number, data: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({...record, status})
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
    const m =
      /^\/projects\/([^/]+)(\/merge_requests(?:\/(\d+)(\/merge)?)?)?$/.exec(
        url.pathname.replace(/^\/api\/v4/, '')
      ) ?? undefined
    let key: string
    if (path === '/users') key = `${method} /users`
    else if (m)
      key = `${method} /projects/:id${m[2] ? '/merge_requests' : ''}${m[3] ? '/:iid' : ''}${m[4] ? '/merge' : ''}`
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
