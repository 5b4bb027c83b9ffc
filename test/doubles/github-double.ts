import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {Ajv} from 'ajv'
import {execGit} from '../../src/git/exec.js'
import {
  commitOnto,
  compareAndSwap,
  lsTree,
  readBlob,
  revParse,
  type LsEntry
} from './git-plumbing.js'
import {OpenApiValidator} from './openapi-validator.js'

/**
 * An in-process GitHub REST + GraphQL API for one or more repositories. It
 * keeps state like GitHub does (PR numbers, labels, reviewers, assignees,
 * auto-merge), resolves branches against a real bare git repository on disk,
 * answers with GitHub's error shapes, and checks every request against
 * `@octokit/openapi`: a request GitHub would not accept gets a 422 here and is
 * recorded in `violations`, so a test that ignores it still fails.
 *
 * Served GHES-style: REST under `/api/v3`, GraphQL at `/api/graphql`.
 */

export interface DoubleRepo {
  owner: string
  repo: string
  /** Bare repository that holds the branches. */
  gitDir: string
  defaultBranch?: string
  /** Repository setting "Allow auto-merge". */
  allowAutoMerge?: boolean
  /** Logins that may be requested as reviewers / assignees. */
  collaborators?: string[]
  /** Team slugs of the owner organisation. */
  teams?: string[]
  /** Branches whose rules require verified signatures (a ruleset / branch protection). */
  requireSignedCommits?: string[]
}

/** What the double offers on `/api/graphql` (GHES versions differ). */
export type GraphqlSupport = 'full' | 'none' | 'no-commit-mutation'

export interface DoubleStats {
  requests: number
  /** Request bodies received. */
  bytesIn: number
  /** Response bodies sent. */
  bytesOut: number
}

export interface GhPull {
  id: number
  node_id: string
  number: number
  state: 'open' | 'closed'
  title: string
  body: string
  draft: boolean
  head: string
  base: string
  labels: string[]
  requested_reviewers: string[]
  requested_teams: string[]
  assignees: string[]
  /** Submitted reviews, oldest first (GET /pulls/{n}/reviews). */
  reviews: {login: string; state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED'}[]
  auto_merge: null | {merge_method: string}
  /** Issue comments on the PR, oldest first (POST /issues/{n}/comments). */
  comments: string[]
  owner: string
  repo: string
}

export interface InjectedFailure {
  method?: string
  /** Matched against the path below /api/v3 (or `/graphql`). */
  path?: RegExp
  status: number
  body: unknown
  headers?: Record<string, string>
  /** How many matching requests fail; default 1. */
  times?: number
}

export interface RecordedRequest {
  method: string
  path: string
  status: number
  operationId?: string
  authorization?: string
  body?: unknown
}

const DOCS = 'https://docs.github.com/rest'

/** A deployment and its status history, as GitHub keeps them. */
export interface GhDeployment {
  id: number
  owner: string
  repo: string
  sha: string
  ref: string
  environment: string
  description: string | null
  statuses: {
    id: number
    state: string
    environment: string
    environment_url: string
    log_url: string
    description: string
  }[]
}

export class GitHubDouble {
  readonly pulls: GhPull[] = []
  readonly deployments: GhDeployment[] = []
  readonly requests: RecordedRequest[] = []
  readonly violations: string[] = []
  private readonly failures: InjectedFailure[] = []
  private nextId = 1000
  private readonly counters = new Map<string, number>()
  /** Runs before a request is handled; tests use it to simulate a concurrent actor. */
  beforeHandle?: (method: string, path: string) => Promise<void> | void
  /** Round trips and bytes, for the benchmark. */
  readonly stats: DoubleStats = {requests: 0, bytesIn: 0, bytesOut: 0}
  /** `commit.verification` of commits made through createCommitOnBranch, by sha. */
  readonly verifications = new Map<string, {verified: boolean; reason: string}>()
  /** GraphQL availability (GHES without GraphQL or with an older schema). */
  graphqlSupport: GraphqlSupport = 'full'
  /** Ref changes made through the REST API, in order (tests check what moved how). */
  readonly refUpdates: {
    op: 'create' | 'update' | 'delete'
    ref: string
    sha?: string
    force?: boolean
  }[] = []
  /** Numbers of pull requests GitHub would have closed because their head lost its commits. */
  readonly autoClosed: number[] = []
  /** Entries per recursive tree response before `truncated: true` (GitHub: 100,000). */
  treeLimit = 100_000
  private readonly tokens: Set<string>

  private constructor(
    private readonly server: Server,
    readonly apiUrl: string,
    readonly origin: string,
    private readonly repos: DoubleRepo[],
    private readonly token: string,
    extraTokens: string[] = []
  ) {
    this.tokens = new Set([token, ...extraTokens])
  }

  static async start(options: {
    repos: DoubleRepo[]
    token: string
    /** Further accepted tokens (e.g. a PAT next to an App token). */
    tokens?: string[]
  }): Promise<GitHubDouble> {
    const validator = OpenApiValidator.github()
    let self: GitHubDouble | undefined
    const server = createServer((req, res) => {
      void self!.handle(req, res, validator).catch(e => {
        self!.violations.push(`double crashed on ${req.method} ${req.url}: ${String(e)}`)
        send(res, 500, {message: 'Server Error'})
      })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const {port} = server.address() as AddressInfo
    const origin = `http://127.0.0.1:${port}`
    self = new GitHubDouble(
      server,
      `${origin}/api/v3`,
      origin,
      options.repos,
      options.token,
      options.tokens
    )
    return self
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }

  inject(failure: InjectedFailure): void {
    this.failures.push({times: 1, ...failure})
  }

  clearFailures(): void {
    this.failures.length = 0
  }

  /** Opens a PR directly, as a person or another tool would. */
  openPull(p: Partial<GhPull> & {owner: string; repo: string; head: string; base: string}): GhPull {
    const number = this.nextNumber(p.owner, p.repo)
    const pull: GhPull = {
      id: this.nextId++,
      node_id: `PR_kw${Buffer.from(`${p.owner}/${p.repo}#${number}`).toString('base64url')}`,
      number,
      state: 'open',
      title: 'manual',
      body: '',
      draft: false,
      labels: [],
      requested_reviewers: [],
      requested_teams: [],
      assignees: [],
      reviews: [],
      comments: [],
      auto_merge: null,
      ...p
    }
    this.pulls.push(pull)
    return pull
  }

  /** A person reviews: like GitHub, this fulfils (removes) their pending review request. */
  submitReview(pull: GhPull, login: string, state: GhPull['reviews'][number]['state']): void {
    pull.reviews.push({login, state})
    pull.requested_reviewers = pull.requested_reviewers.filter(u => u !== login)
  }

  private nextNumber(owner: string, repo: string): number {
    const key = `${owner}/${repo}`
    const n = (this.counters.get(key) ?? 0) + 1
    this.counters.set(key, n)
    return n
  }

  private async handle(
    req: IncomingMessage,
    res: ServerResponse,
    validator: OpenApiValidator
  ): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin)
    const method = req.method ?? 'GET'
    const raw = await readBody(req)
    this.stats.requests++
    this.stats.bytesIn += Buffer.byteLength(raw)
    let body: unknown
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw)
      } catch {
        return this.reply(res, {method, path: url.pathname}, 400, {
          message: 'Problems parsing JSON',
          documentation_url: DOCS,
          status: '400'
        })
      }
    }
    const record: RecordedRequest = {
      method,
      path: url.pathname + url.search,
      status: 0,
      body,
      authorization: req.headers.authorization
    }
    const auth = req.headers.authorization ?? ''
    const presented = auth.replace(/^(token|Bearer) /, '')
    if (!/^(token|Bearer) /.test(auth) || !this.tokens.has(presented)) {
      return this.reply(res, record, 401, {
        message: 'Bad credentials',
        documentation_url: DOCS,
        status: '401'
      })
    }
    await this.beforeHandle?.(method, url.pathname)
    const isGraphql = url.pathname === '/api/graphql'
    const path = isGraphql ? '/graphql' : url.pathname.replace(/^\/api\/v3/, '')
    const failure = this.failures.find(
      f =>
        (f.times ?? 1) > 0 && (!f.method || f.method === method) && (!f.path || f.path.test(path))
    )
    if (failure) {
      failure.times = (failure.times ?? 1) - 1
      return this.reply(res, record, failure.status, failure.body, failure.headers)
    }
    if (isGraphql) return this.graphql(res, record, body, presented)
    if (!url.pathname.startsWith('/api/v3/')) {
      this.violations.push(`request outside the API base: ${method} ${url.pathname}`)
      return this.reply(res, record, 404, {
        message: 'Not Found',
        documentation_url: DOCS,
        status: '404'
      })
    }
    const match = validator.match(method, path, url.searchParams, body)
    if (!match) {
      this.violations.push(`no GitHub operation for ${method} ${path}`)
      return this.reply(res, record, 404, {
        message: 'Not Found',
        documentation_url: DOCS,
        status: '404'
      })
    }
    record.operationId = match.operationId
    if (match.errors.length > 0) {
      this.violations.push(`${match.operationId}: ${match.errors.join('; ')}`)
      return this.reply(res, record, 422, {
        message: 'Invalid request.',
        errors: match.errors,
        documentation_url: DOCS,
        status: '422'
      })
    }
    const repo = this.repos.find(
      r => r.owner === match.params.owner && r.repo === match.params.repo
    )
    if (!repo)
      return this.reply(res, record, 404, {
        message: 'Not Found',
        documentation_url: DOCS,
        status: '404'
      })
    const [status, data, headers] = await this.route(
      match.operationId,
      match.params,
      url.searchParams,
      body as Record<string, unknown>,
      repo,
      presented
    )
    return this.reply(res, record, status, data, headers)
  }

  private reply(
    res: ServerResponse,
    record: RecordedRequest | {method: string; path: string},
    status: number,
    data: unknown,
    headers: Record<string, string> = {}
  ): void {
    this.requests.push({...record, status} as RecordedRequest)
    this.stats.bytesOut += data === undefined ? 0 : Buffer.byteLength(JSON.stringify(data))
    send(res, status, data, headers)
  }

  private async route(
    op: string,
    params: Record<string, string>,
    query: URLSearchParams,
    body: Record<string, unknown>,
    repo: DoubleRepo,
    _token: string
  ): Promise<[number, unknown, Record<string, string>?]> {
    const findPull = (n: string) =>
      this.pulls.find(p => p.owner === repo.owner && p.repo === repo.repo && p.number === Number(n))
    const notFound: [number, unknown] = [
      404,
      {message: 'Not Found', documentation_url: DOCS, status: '404'}
    ]
    switch (op) {
      case 'repos/get':
        return [200, this.repoJson(repo)]
      case 'pulls/list': {
        const state = query.get('state') ?? 'open'
        const head = query.get('head')
        const base = query.get('base')
        let list = this.pulls.filter(p => p.owner === repo.owner && p.repo === repo.repo)
        if (state !== 'all') list = list.filter(p => p.state === state)
        if (head) {
          // GitHub requires `owner:branch`; a bare branch name silently matches nothing.
          const [user, ref] = head.includes(':') ? head.split(/:(.*)/s) : ['', '']
          list = list.filter(p => user === repo.owner && p.head === ref)
        }
        if (base) list = list.filter(p => p.base === base)
        list = [...list].sort((a, b) => b.number - a.number)
        return this.page(
          list.map(p => this.pullJson(p, repo)),
          query,
          `/repos/${repo.owner}/${repo.repo}/pulls`
        )
      }
      case 'pulls/get': {
        const p = findPull(params.pull_number)
        return p ? [200, this.pullJson(p, repo)] : notFound
      }
      case 'pulls/list-reviews': {
        const p = findPull(params.pull_number)
        if (!p) return notFound
        return this.page(
          p.reviews.map((r, i) => ({
            id: 5000 + i,
            node_id: `PRR_${p.number}_${i}`,
            user: {login: r.login, id: 9000 + i, type: 'User'},
            body: '',
            state: r.state,
            html_url: `${this.origin}/${repo.owner}/${repo.repo}/pull/${p.number}#pullrequestreview-${5000 + i}`,
            pull_request_url: `${this.apiUrl}/repos/${repo.owner}/${repo.repo}/pulls/${p.number}`,
            author_association: 'COLLABORATOR',
            _links: {
              html: {href: `${this.origin}/${repo.owner}/${repo.repo}/pull/${p.number}`},
              pull_request: {
                href: `${this.apiUrl}/repos/${repo.owner}/${repo.repo}/pulls/${p.number}`
              }
            },
            submitted_at: '2026-01-01T00:00:00Z',
            commit_id: '0000000000000000000000000000000000000000'
          })),
          query,
          `/repos/${repo.owner}/${repo.repo}/pulls/${p.number}/reviews`
        )
      }
      case 'pulls/create': {
        const head = String(body.head ?? '')
        const base = String(body.base ?? '')
        const headRef = head.includes(':') ? head.split(':')[1] : head
        const headSha = await branchSha(repo.gitDir, headRef)
        const baseSha = await branchSha(repo.gitDir, base)
        if (!baseSha)
          return [422, validation([{resource: 'PullRequest', field: 'base', code: 'invalid'}])]
        if (!headSha)
          return [422, validation([{resource: 'PullRequest', field: 'head', code: 'invalid'}])]
        if (
          this.pulls.some(
            p =>
              p.owner === repo.owner &&
              p.repo === repo.repo &&
              p.state === 'open' &&
              p.head === headRef &&
              p.base === base
          )
        ) {
          return [
            422,
            validation([
              {
                resource: 'PullRequest',
                code: 'custom',
                message: `A pull request already exists for ${repo.owner}:${headRef}.`
              }
            ])
          ]
        }
        if (headSha === baseSha || (await isAncestor(repo.gitDir, headSha, baseSha))) {
          return [
            422,
            validation([
              {
                resource: 'PullRequest',
                code: 'custom',
                message: `No commits between ${base} and ${headRef}`
              }
            ])
          ]
        }
        const pull = this.openPull({
          owner: repo.owner,
          repo: repo.repo,
          head: headRef,
          base,
          title: String(body.title ?? ''),
          body: String(body.body ?? ''),
          draft: body.draft === true
        })
        return [201, this.pullJson(pull, repo)]
      }
      case 'pulls/update': {
        const p = findPull(params.pull_number)
        if (!p) return notFound
        if (typeof body.title === 'string') p.title = body.title
        if (typeof body.body === 'string') p.body = body.body
        if (body.state === 'open' || body.state === 'closed') p.state = body.state
        return [200, this.pullJson(p, repo)]
      }
      case 'issues/create-comment': {
        const p = findPull(params.issue_number)
        if (!p) return notFound
        if (typeof body.body !== 'string' || body.body === '')
          return [
            422,
            validation([{resource: 'IssueComment', field: 'body', code: 'missing_field'}])
          ]
        p.comments.push(body.body)
        return [
          201,
          {
            id: p.comments.length,
            node_id: `IC_${p.number}_${p.comments.length}`,
            url: `${this.apiUrl}/repos/${repo.owner}/${repo.repo}/issues/comments/${p.comments.length}`,
            html_url: `${this.origin}/${repo.owner}/${repo.repo}/pull/${p.number}#issuecomment-${p.comments.length}`,
            body: body.body,
            user: {login: 'gitops-bot', id: 1},
            created_at: new Date().toISOString(),
            updated_at: new Date().toISOString(),
            issue_url: `${this.apiUrl}/repos/${repo.owner}/${repo.repo}/issues/${p.number}`,
            author_association: 'NONE'
          }
        ]
      }
      case 'issues/add-labels': {
        const p = findPull(params.issue_number)
        if (!p) return notFound
        const labels = ((body?.labels as unknown[]) ?? []).map(l =>
          typeof l === 'string' ? l : String((l as {name: string}).name)
        )
        for (const l of labels) if (!p.labels.includes(l)) p.labels.push(l)
        return [200, p.labels.map((name, i) => labelJson(name, i))]
      }
      case 'pulls/request-reviewers': {
        const p = findPull(params.pull_number)
        if (!p) return notFound
        const users = (body.reviewers as string[] | undefined) ?? []
        const teams = (body.team_reviewers as string[] | undefined) ?? []
        const collaborators = repo.collaborators ?? []
        if (
          users.some(u => !collaborators.includes(u)) ||
          teams.some(t => !(repo.teams ?? []).includes(t))
        ) {
          return [
            422,
            {
              message: `Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the ${repo.owner}/${repo.repo} repository.`,
              documentation_url: DOCS,
              status: '422'
            }
          ]
        }
        for (const u of users) if (!p.requested_reviewers.includes(u)) p.requested_reviewers.push(u)
        for (const t of teams) if (!p.requested_teams.includes(t)) p.requested_teams.push(t)
        return [201, this.pullJson(p, repo)]
      }
      case 'issues/add-assignees': {
        const p = findPull(params.issue_number)
        if (!p) return notFound
        // GitHub silently drops assignees without access instead of failing.
        for (const u of (body.assignees as string[] | undefined) ?? []) {
          if ((repo.collaborators ?? []).includes(u) && !p.assignees.includes(u))
            p.assignees.push(u)
        }
        return [
          201,
          {
            ...(this.pullJson(p, repo) as object),
            pull_request: {url: `${this.apiUrl}/repos/${repo.owner}/${repo.repo}/pulls/${p.number}`}
          }
        ]
      }
      case 'git/get-ref': {
        const ref = params.ref
        const sha = ref.startsWith('heads/')
          ? await branchSha(repo.gitDir, ref.slice(6))
          : undefined
        if (!sha) return notFound
        return [200, this.refJson(repo, ref, sha)]
      }
      case 'git/create-ref': {
        const ref = String(body.ref ?? '')
        const sha = String(body.sha ?? '')
        if (!/^refs\/[^/]+\/.+/.test(ref))
          return [
            422,
            {
              message: 'Reference name must start with refs/ and have at least two slashes',
              documentation_url: DOCS,
              status: '422'
            }
          ]
        if (!(await revParse(repo.gitDir, `${sha}^{commit}`)))
          return [422, {message: 'Object does not exist', documentation_url: DOCS, status: '422'}]
        if (await revParse(repo.gitDir, ref))
          return [
            422,
            {message: 'Reference already exists', documentation_url: DOCS, status: '422'}
          ]
        // Old value all zeros: the ref must not exist, like GitHub's own create.
        if (
          !(await compareAndSwap(
            repo.gitDir,
            ref.replace(/^refs\/heads\//, ''),
            sha,
            '0'.repeat(40)
          ))
        )
          return [
            422,
            {message: 'Reference already exists', documentation_url: DOCS, status: '422'}
          ]
        this.refUpdates.push({op: 'create', ref, sha})
        return [201, this.refJson(repo, ref.slice(5), sha)]
      }
      case 'git/update-ref': {
        const ref = params.ref
        const sha = String(body.sha ?? '')
        const branch = ref.startsWith('heads/') ? ref.slice(6) : ''
        const old = await branchSha(repo.gitDir, branch)
        if (!old)
          return [
            422,
            {message: 'Reference does not exist', documentation_url: DOCS, status: '422'}
          ]
        if (!(await revParse(repo.gitDir, `${sha}^{commit}`)))
          return [422, {message: 'Object does not exist', documentation_url: DOCS, status: '422'}]
        if (body.force !== true && !(await isAncestor(repo.gitDir, old, sha)))
          return [
            422,
            {message: 'Update is not a fast forward', documentation_url: DOCS, status: '422'}
          ]
        // GitHub has no compare-and-swap here: whatever the branch held is replaced.
        await execGit(['update-ref', `refs/${ref}`, sha], {cwd: repo.gitDir})
        this.refUpdates.push({op: 'update', ref: `refs/${ref}`, sha, force: body.force === true})
        await this.closeEmptyPulls(repo, branch)
        return [200, this.refJson(repo, ref, sha)]
      }
      case 'git/delete-ref': {
        const ref = params.ref
        const branch = ref.startsWith('heads/') ? ref.slice(6) : ''
        if (!(await branchSha(repo.gitDir, branch)))
          return [
            422,
            {message: 'Reference does not exist', documentation_url: DOCS, status: '422'}
          ]
        await execGit(['update-ref', '-d', `refs/${ref}`], {cwd: repo.gitDir})
        this.refUpdates.push({op: 'delete', ref: `refs/${ref}`})
        await this.closeEmptyPulls(repo, branch)
        return [204, undefined]
      }
      case 'repos/compare-commits-with-basehead':
        return this.compare(repo, params.basehead, query)
      case 'repos/get-content': {
        const commit = await resolveCommit(repo, query.get('ref') ?? repo.defaultBranch ?? 'main')
        if (!commit) return notFound
        const path = params.path.replace(/\/+$/, '')
        const [self] = await lsTree(repo.gitDir, commit, {path})
        if (!self || self.path !== path) return notFound
        if (self.type === 'tree') {
          const children = await lsTree(repo.gitDir, commit, {path: `${path}/`})
          return [200, children.map(e => this.contentJson(repo, e, commit))]
        }
        const item = this.contentJson(repo, self, commit) as Record<string, unknown>
        if (item.type === 'file') {
          const bytes = (await readBlob(repo.gitDir, self.sha)) ?? Buffer.alloc(0)
          // GitHub wraps the base64 at 60 characters.
          const b64 = bytes.toString('base64').replace(/(.{60})/g, '$1\n')
          return [200, {...item, encoding: 'base64', content: b64}]
        }
        if (item.type === 'symlink') {
          const target = (await readBlob(repo.gitDir, self.sha))?.toString('utf8') ?? ''
          return [200, {...item, target}]
        }
        return [200, item]
      }
      case 'git/get-tree': {
        const recursive = query.has('recursive')
        const sha = await revParse(repo.gitDir, `${params.tree_sha}^{tree}`)
        if (!sha) return notFound
        let entries = await lsTree(repo.gitDir, sha, {recursive})
        const truncated = entries.length > this.treeLimit
        if (truncated) entries = entries.slice(0, this.treeLimit)
        return [
          200,
          {
            sha,
            url: `${this.apiUrl}/repos/${repo.owner}/${repo.repo}/git/trees/${sha}`,
            tree: entries.map(e => ({
              path: e.path,
              mode: e.mode,
              type: e.type,
              sha: e.sha,
              ...(e.size !== undefined ? {size: e.size} : {}),
              url: `${this.apiUrl}/repos/${repo.owner}/${repo.repo}/git/${e.type === 'tree' ? 'trees' : 'blobs'}/${e.sha}`
            })),
            truncated
          }
        ]
      }
      case 'git/get-blob': {
        const bytes = await readBlob(repo.gitDir, params.file_sha)
        if (!bytes) return notFound
        return [
          200,
          {
            sha: params.file_sha,
            node_id: `B_${params.file_sha.slice(0, 12)}`,
            size: bytes.length,
            url: `${this.apiUrl}/repos/${repo.owner}/${repo.repo}/git/blobs/${params.file_sha}`,
            content: bytes.toString('base64').replace(/(.{60})/g, '$1\n'),
            encoding: 'base64'
          }
        ]
      }
      case 'repos/get-commit': {
        const sha = await resolveCommit(repo, params.ref)
        if (!sha)
          return [
            422,
            {
              message: `No commit found for SHA: ${params.ref}`,
              documentation_url: DOCS,
              status: '422'
            }
          ]
        return [200, {...((await this.commitJson(repo, sha)) as object), files: []}]
      }
      case 'repos/create-deployment': {
        const ref = String(body.ref ?? '')
        const sha = await revParse(repo.gitDir, `${ref}^{commit}`)
        if (!sha)
          return [
            422,
            {message: `No ref found for: ${ref}`, documentation_url: DOCS, status: '422'}
          ]
        // GitHub verifies every commit status first unless required_contexts is []; the
        // workflow creating the deployment is itself still pending, so that check fails.
        const contexts = body.required_contexts
        if (!Array.isArray(contexts) || contexts.length > 0) {
          return [
            409,
            {
              message: 'Conflict: Commit status checks failed for ' + ref + '.',
              errors: [
                {
                  contexts: [{context: 'ci/build', state: 'pending'}],
                  resource: 'Deployment',
                  field: 'required_contexts',
                  code: 'invalid'
                }
              ],
              documentation_url: DOCS,
              status: '409'
            }
          ]
        }
        const d: GhDeployment = {
          id: this.nextId++,
          owner: repo.owner,
          repo: repo.repo,
          sha,
          ref,
          environment: String(body.environment ?? 'production'),
          description: (body.description as string | undefined) ?? null,
          statuses: []
        }
        this.deployments.push(d)
        return [201, this.deploymentJson(d)]
      }
      case 'repos/create-deployment-status': {
        const d = this.deployments.find(
          x =>
            x.owner === repo.owner && x.repo === repo.repo && x.id === Number(params.deployment_id)
        )
        if (!d) return notFound
        const status = {
          id: this.nextId++,
          state: String(body.state),
          environment: (body.environment as string | undefined) ?? d.environment,
          environment_url: (body.environment_url as string | undefined) ?? '',
          log_url: (body.log_url as string | undefined) ?? '',
          description: (body.description as string | undefined) ?? ''
        }
        d.statuses.push(status)
        const base = `${this.apiUrl}/repos/${repo.owner}/${repo.repo}/deployments/${d.id}`
        return [
          201,
          {
            url: `${base}/statuses/${status.id}`,
            id: status.id,
            node_id: `DES_${status.id}`,
            state: status.state,
            creator: {login: 'github-actions[bot]', id: 41898282, type: 'Bot'},
            description: status.description,
            environment: status.environment,
            target_url: status.log_url,
            log_url: status.log_url,
            environment_url: status.environment_url,
            created_at: new Date().toISOString(),
            updated_at: new Date().toISOString(),
            deployment_url: base,
            repository_url: `${this.apiUrl}/repos/${repo.owner}/${repo.repo}`
          }
        ]
      }
      default:
        this.violations.push(`the double does not implement ${op}`)
        return [501, {message: `not implemented in the double: ${op}`}]
    }
  }

  private async graphql(
    res: ServerResponse,
    record: RecordedRequest,
    body: unknown,
    token: string
  ): Promise<void> {
    const {query, variables} = (body ?? {}) as {query?: string; variables?: Record<string, unknown>}
    record.operationId = 'graphql'
    if (this.graphqlSupport === 'none') {
      return this.reply(res, record, 404, {message: 'Not Found', documentation_url: DOCS})
    }
    if (typeof query === 'string' && /\bcreateCommitOnBranch\b/.test(query)) {
      if (this.graphqlSupport === 'no-commit-mutation') {
        return this.reply(res, record, 200, {
          errors: [
            {
              path: ['mutation', 'createCommitOnBranch'],
              extensions: {
                code: 'undefinedField',
                typeName: 'Mutation',
                fieldName: 'createCommitOnBranch'
              },
              locations: [{line: 2, column: 3}],
              message: "Field 'createCommitOnBranch' doesn't exist on type 'Mutation'"
            }
          ]
        })
      }
      const [status, data] = await this.createCommitOnBranch(query, variables, token)
      return this.reply(res, record, status, data)
    }
    if (typeof query !== 'string') {
      this.violations.push('graphql request without a query')
      return this.reply(res, record, 400, {
        message: 'Problems parsing JSON',
        documentation_url: DOCS
      })
    }
    // Any other operation is a gap in the double: record it, so a test cannot pass on an unchecked query.
    if (!/mutation[^{]*\{\s*enablePullRequestAutoMerge\s*\(/.test(query)) {
      this.violations.push(`graphql operation not supported by the double: ${query.slice(0, 80)}`)
      return this.reply(res, record, 200, {
        errors: [{message: 'Field is not supported by the double'}]
      })
    }
    const id = variables?.pullRequestId
    const method = variables?.mergeMethod
    if (typeof method !== 'string' || !['MERGE', 'SQUASH', 'REBASE'].includes(method)) {
      this.violations.push(`enablePullRequestAutoMerge: bad mergeMethod ${JSON.stringify(method)}`)
      return this.reply(res, record, 200, {
        errors: [
          {
            message: `Variable $mergeMethod of type PullRequestMergeMethod! was provided invalid value`,
            locations: [{line: 1, column: 10}]
          }
        ]
      })
    }
    const pull = this.pulls.find(p => p.node_id === id)
    if (!pull) {
      return this.reply(res, record, 200, {
        data: {enablePullRequestAutoMerge: null},
        errors: [
          {
            type: 'NOT_FOUND',
            path: ['enablePullRequestAutoMerge'],
            message: `Could not resolve to a node with the global id of '${String(id)}'`
          }
        ]
      })
    }
    const repo = this.repos.find(r => r.owner === pull.owner && r.repo === pull.repo)!
    if (!repo.allowAutoMerge) {
      return this.reply(res, record, 200, {
        data: {enablePullRequestAutoMerge: null},
        errors: [
          {
            type: 'UNPROCESSABLE',
            path: ['enablePullRequestAutoMerge'],
            message: 'Pull request Auto merge is not allowed for this repository'
          }
        ]
      })
    }
    pull.auto_merge = {merge_method: method.toLowerCase()}
    return this.reply(res, record, 200, {
      data: {
        enablePullRequestAutoMerge: {
          pullRequest: {number: pull.number, autoMergeRequest: {mergeMethod: method}}
        }
      }
    })
  }

  /**
   * GraphQL `createCommitOnBranch`: the input is checked against the schema's
   * CreateCommitOnBranchInput, the branch must still point at
   * `expectedHeadOid` (else STALE_DATA, as GitHub answers), and the commit is
   * made in the real bare repository with a compare-and-swap of the branch,
   * so a concurrent `git push` and a concurrent mutation are both detected.
   * App installation tokens and GITHUB_TOKEN (`ghs_`) get verified commits;
   * any other token an unsigned one.
   */
  private async createCommitOnBranch(
    query: string,
    variables: Record<string, unknown> | undefined,
    token: string
  ): Promise<[number, unknown]> {
    const fail = (type: string, message: string): [number, unknown] => [
      200,
      {
        data: {createCommitOnBranch: null},
        errors: [{type, path: ['createCommitOnBranch'], locations: [{line: 2, column: 3}], message}]
      }
    ]
    if (
      !/mutation\s*\(\s*\$input\s*:\s*CreateCommitOnBranchInput!\s*\)\s*\{\s*createCommitOnBranch\s*\(\s*input\s*:\s*\$input\s*\)/.test(
        query
      )
    ) {
      this.violations.push(`createCommitOnBranch: unexpected query shape: ${query.slice(0, 120)}`)
      return [200, {errors: [{message: 'Parse error or unexpected variables'}]}]
    }
    const input = variables?.input
    if (!validateCommitInput(input)) {
      const problems = ajv.errorsText(validateCommitInput.errors)
      this.violations.push(
        `createCommitOnBranch: input does not match CreateCommitOnBranchInput: ${problems}`
      )
      return [
        200,
        {
          errors: [
            {
              extensions: {value: input, problems: [{path: [], explanation: problems}]},
              locations: [{line: 1, column: 10}],
              message: `Variable $input of type CreateCommitOnBranchInput! was provided invalid value`
            }
          ]
        }
      ]
    }
    const i = input as CommitInput
    const nwo = i.branch.repositoryNameWithOwner
    const repo = this.repos.find(r => `${r.owner}/${r.repo}` === nwo)
    if (!i.branch.branchName || !repo) {
      return fail(
        'NOT_FOUND',
        `Could not resolve to a Repository with the name '${nwo ?? i.branch.id}'.`
      )
    }
    const branch = i.branch.branchName
    const head = await branchSha(repo.gitDir, branch)
    if (!head)
      return fail('NOT_FOUND', `Could not resolve to a Ref with the name 'refs/heads/${branch}'.`)
    const stale = () =>
      fail(
        'STALE_DATA',
        `Expected branch to point to "${i.expectedHeadOid}" but it did not.  Pull and try again.`
      )
    if (head !== i.expectedHeadOid) return stale()
    const signed = token.startsWith('ghs_')
    if ((repo.requireSignedCommits ?? []).includes(branch) && !signed) {
      return fail(
        'UNPROCESSABLE',
        'Repository rule violations found\n\nCommits must have verified signatures.\n\n'
      )
    }
    const additions = i.fileChanges?.additions ?? []
    const deletions = i.fileChanges?.deletions ?? []
    for (const a of additions) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(a.contents)) {
        return [200, {errors: [{message: `Could not decode base64 contents for ${a.path}`}]}]
      }
    }
    const identity = signed
      ? {
          name: 'github-actions[bot]',
          email: '41898282+github-actions[bot]@users.noreply.github.com'
        }
      : {name: 'token-owner', email: 'token-owner@users.noreply.github.com'}
    const message = i.message.body
      ? `${i.message.headline}\n\n${i.message.body}`
      : i.message.headline
    const commit = await commitOnto(
      repo.gitDir,
      head,
      [
        ...additions.map(a => ({path: a.path, content: Buffer.from(a.contents, 'base64')})),
        ...deletions.map(d => ({path: d.path, content: null}))
      ],
      message + '\n',
      identity,
      {name: 'GitHub', email: 'noreply@github.com'}
    )
    if (!(await compareAndSwap(repo.gitDir, branch, commit, head))) return stale()
    this.verifications.set(
      commit,
      signed ? {verified: true, reason: 'valid'} : {verified: false, reason: 'unsigned'}
    )
    return [
      200,
      {
        data: {
          createCommitOnBranch: {
            commit: {oid: commit, url: `${this.origin}/${repo.owner}/${repo.repo}/commit/${commit}`}
          }
        }
      }
    ]
  }

  /**
   * GitHub closes an open pull request for good when its head branch is
   * deleted or no longer has commits beyond the base (e.g. reset to the base
   * tip). Called after every ref change the double makes.
   */
  private async closeEmptyPulls(repo: DoubleRepo, branch: string): Promise<void> {
    for (const p of this.pulls) {
      if (p.owner !== repo.owner || p.repo !== repo.repo || p.state !== 'open' || p.head !== branch)
        continue
      const head = await branchSha(repo.gitDir, branch)
      const base = await branchSha(repo.gitDir, p.base)
      if (!head || (base && (await isAncestor(repo.gitDir, head, base)))) {
        p.state = 'closed'
        this.autoClosed.push(p.number)
      }
    }
  }

  /** `GET /repos/{o}/{r}/compare/{base}...{head}`: three-dot, commits paged, files on page 1 (at most 300). */
  private async compare(
    repo: DoubleRepo,
    basehead: string,
    query: URLSearchParams
  ): Promise<[number, unknown]> {
    const m = /^(.+?)\.\.\.(.+)$/.exec(basehead)
    const notFound: [number, unknown] = [
      404,
      {message: 'Not Found', documentation_url: DOCS, status: '404'}
    ]
    if (!m) return notFound
    const base = await resolveCommit(repo, m[1])
    const head = await resolveCommit(repo, m[2])
    if (!base || !head) return notFound
    const mergeBase = (await execGit(['merge-base', base, head], {cwd: repo.gitDir})).stdout.trim()
    const list = async (range: string) =>
      (await execGit(['rev-list', '--reverse', range], {cwd: repo.gitDir})).stdout
        .split('\n')
        .filter(Boolean)
    const ahead = await list(`${base}..${head}`)
    const behind = await list(`${head}..${base}`)
    const perPage = Math.min(Number(query.get('per_page') ?? 250) || 250, 250)
    const page = Math.max(Number(query.get('page') ?? 1) || 1, 1)
    const shown = ahead.slice((page - 1) * perPage, page * perPage)
    const api = `${this.apiUrl}/repos/${repo.owner}/${repo.repo}`
    const commitJson = (sha: string) => this.commitJson(repo, sha)
    const raw = (
      await execGit(['diff', '--raw', '--no-abbrev', '--no-renames', '-z', mergeBase, head], {
        cwd: repo.gitDir
      })
    ).stdout
      .split('\0')
      .filter(Boolean)
    const files: unknown[] = []
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const [, , oldSha, newSha, letter] = raw[i].replace(/^:/, '').split(' ')
      const status = letter === 'A' ? 'added' : letter === 'D' ? 'removed' : 'modified'
      files.push({
        sha: status === 'removed' ? oldSha : newSha,
        filename: raw[i + 1],
        status,
        additions: 0,
        deletions: 0,
        changes: 0,
        blob_url: `${this.origin}/${repo.owner}/${repo.repo}/blob/${head}/${raw[i + 1]}`,
        raw_url: `${this.origin}/${repo.owner}/${repo.repo}/raw/${head}/${raw[i + 1]}`,
        contents_url: `${api}/contents/${raw[i + 1]}?ref=${head}`
      })
    }
    return [
      200,
      {
        url: `${api}/compare/${basehead}`,
        html_url: `${this.origin}/${repo.owner}/${repo.repo}/compare/${basehead}`,
        permalink_url: `${this.origin}/${repo.owner}/${repo.repo}/compare/${base}...${head}`,
        diff_url: `${this.origin}/${repo.owner}/${repo.repo}/compare/${basehead}.diff`,
        patch_url: `${this.origin}/${repo.owner}/${repo.repo}/compare/${basehead}.patch`,
        base_commit: await commitJson(base),
        merge_base_commit: await commitJson(mergeBase),
        status:
          ahead.length && behind.length
            ? 'diverged'
            : ahead.length
              ? 'ahead'
              : behind.length
                ? 'behind'
                : 'identical',
        ahead_by: ahead.length,
        behind_by: behind.length,
        total_commits: ahead.length,
        commits: await Promise.all(shown.map(commitJson)),
        ...(page === 1 ? {files: files.slice(0, 300)} : {})
      }
    ]
  }

  /** A commit as the REST API shows it (`commit.verification` from what createCommitOnBranch recorded). */
  private async commitJson(repo: DoubleRepo, sha: string): Promise<unknown> {
    const log = await execGit(
      ['log', '-1', '--format=%an%x00%ae%x00%cn%x00%ce%x00%B%x00%T%x00%P', sha],
      {cwd: repo.gitDir}
    )
    const [an, ae, cn, ce, message, tree, parents] = log.stdout.split('\0')
    const v = this.verifications.get(sha) ?? {verified: false, reason: 'unsigned'}
    const api = `${this.apiUrl}/repos/${repo.owner}/${repo.repo}`
    return {
      sha,
      node_id: `C_${sha.slice(0, 12)}`,
      url: `${api}/commits/${sha}`,
      html_url: `${this.origin}/${repo.owner}/${repo.repo}/commit/${sha}`,
      comments_url: `${api}/commits/${sha}/comments`,
      commit: {
        url: `${api}/git/commits/${sha}`,
        author: {name: an, email: ae, date: '2026-01-01T00:00:00Z'},
        committer: {name: cn, email: ce, date: '2026-01-01T00:00:00Z'},
        message: message.replace(/\n$/, ''),
        tree: {sha: tree, url: `${api}/git/trees/${tree}`},
        comment_count: 0,
        verification: {
          verified: v.verified,
          reason: v.reason,
          signature: v.verified ? '-----BEGIN PGP SIGNATURE-----\n…' : null,
          payload: v.verified ? `tree ${tree}\n` : null,
          verified_at: v.verified ? '2026-01-01T00:00:00Z' : null
        }
      },
      author: null,
      committer: null,
      parents: parents
        .trim()
        .split(' ')
        .filter(Boolean)
        .map(p => ({sha: p, url: `${api}/commits/${p}`}))
    }
  }

  private refJson(repo: DoubleRepo, ref: string, sha: string): unknown {
    return {
      ref: `refs/${ref}`,
      node_id: `REF_${Buffer.from(ref).toString('base64url')}`,
      url: `${this.apiUrl}/repos/${repo.owner}/${repo.repo}/git/refs/${ref}`,
      object: {
        sha,
        type: 'commit',
        url: `${this.apiUrl}/repos/${repo.owner}/${repo.repo}/git/commits/${sha}`
      }
    }
  }

  private page(
    items: unknown[],
    query: URLSearchParams,
    path: string
  ): [number, unknown, Record<string, string>] {
    const perPage = Math.min(Number(query.get('per_page') ?? 30) || 30, 100)
    const page = Math.max(Number(query.get('page') ?? 1) || 1, 1)
    const last = Math.max(Math.ceil(items.length / perPage), 1)
    const links: string[] = []
    const link = (p: number, rel: string) => {
      const q = new URLSearchParams(query)
      q.set('page', String(p))
      links.push(`<${this.apiUrl}${path}?${q}>; rel="${rel}"`)
    }
    if (page < last) {
      link(page + 1, 'next')
      link(last, 'last')
    }
    if (page > 1) {
      link(1, 'first')
      link(page - 1, 'prev')
    }
    return [
      200,
      items.slice((page - 1) * perPage, page * perPage),
      links.length ? {link: links.join(', ')} : {}
    ]
  }

  private contentJson(repo: DoubleRepo, e: LsEntry, commit: string): unknown {
    const type =
      e.type === 'tree'
        ? 'dir'
        : e.type === 'commit'
          ? 'submodule'
          : e.mode === '120000'
            ? 'symlink'
            : 'file'
    const name = e.path.slice(e.path.lastIndexOf('/') + 1)
    const api = `${this.apiUrl}/repos/${repo.owner}/${repo.repo}`
    const url = `${api}/contents/${e.path}?ref=${commit}`
    const git = `${api}/git/${e.type === 'tree' ? 'trees' : 'blobs'}/${e.sha}`
    const html = `${this.origin}/${repo.owner}/${repo.repo}/blob/${commit}/${e.path}`
    return {
      type,
      size: e.size ?? 0,
      name,
      path: e.path,
      sha: e.sha,
      url,
      git_url: git,
      html_url: html,
      download_url: type === 'file' ? `${this.origin}/raw/${e.path}` : null,
      _links: {self: url, git, html}
    }
  }

  private deploymentJson(d: GhDeployment): unknown {
    const url = `${this.apiUrl}/repos/${d.owner}/${d.repo}/deployments/${d.id}`
    return {
      url,
      id: d.id,
      node_id: `DE_${d.id}`,
      sha: d.sha,
      ref: d.ref,
      task: 'deploy',
      payload: {},
      original_environment: d.environment,
      environment: d.environment,
      description: d.description,
      creator: {login: 'github-actions[bot]', id: 41898282, type: 'Bot'},
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
      statuses_url: `${url}/statuses`,
      repository_url: `${this.apiUrl}/repos/${d.owner}/${d.repo}`,
      transient_environment: false,
      production_environment: d.environment === 'production'
    }
  }

  private repoJson(repo: DoubleRepo): unknown {
    return {
      id: 1,
      node_id: `R_${repo.owner}_${repo.repo}`,
      name: repo.repo,
      full_name: `${repo.owner}/${repo.repo}`,
      private: true,
      owner: {login: repo.owner, id: 1, type: 'Organization'},
      html_url: `${this.origin}/${repo.owner}/${repo.repo}`,
      url: `${this.apiUrl}/repos/${repo.owner}/${repo.repo}`,
      default_branch: repo.defaultBranch ?? 'main',
      allow_auto_merge: repo.allowAutoMerge === true
    }
  }

  private pullJson(p: GhPull, repo: DoubleRepo): unknown {
    const api = `${this.apiUrl}/repos/${repo.owner}/${repo.repo}`
    return {
      url: `${api}/pulls/${p.number}`,
      id: p.id,
      node_id: p.node_id,
      html_url: `${this.origin}/${repo.owner}/${repo.repo}/pull/${p.number}`,
      number: p.number,
      state: p.state,
      locked: false,
      title: p.title,
      user: {login: 'gitops-bot', id: 7, type: 'Bot'},
      body: p.body,
      labels: p.labels.map((name, i) => labelJson(name, i)),
      draft: p.draft,
      head: {
        label: `${repo.owner}:${p.head}`,
        ref: p.head,
        sha: '',
        user: {login: repo.owner},
        repo: this.repoJson(repo)
      },
      base: {
        label: `${repo.owner}:${p.base}`,
        ref: p.base,
        sha: '',
        user: {login: repo.owner},
        repo: this.repoJson(repo)
      },
      requested_reviewers: p.requested_reviewers.map(login => ({login})),
      requested_teams: p.requested_teams.map(slug => ({slug, name: slug})),
      assignees: p.assignees.map(login => ({login})),
      auto_merge: p.auto_merge
        ? {
            enabled_by: {login: 'gitops-bot'},
            merge_method: p.auto_merge.merge_method,
            commit_title: null,
            commit_message: null
          }
        : null,
      merged: false,
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-01T00:00:00Z'
    }
  }
}

interface CommitInput {
  branch: {repositoryNameWithOwner?: string; branchName?: string; id?: string}
  clientMutationId?: string
  expectedHeadOid: string
  fileChanges?: {additions?: {path: string; contents: string}[]; deletions?: {path: string}[]}
  message: {headline: string; body?: string}
}

const ajv = new Ajv({allErrors: true})

/** CreateCommitOnBranchInput and its input types, from GitHub's GraphQL schema. */
const validateCommitInput = ajv.compile({
  type: 'object',
  additionalProperties: false,
  required: ['branch', 'expectedHeadOid', 'message'],
  properties: {
    clientMutationId: {type: 'string'},
    expectedHeadOid: {type: 'string', pattern: '^[0-9a-f]{40}$'},
    branch: {
      type: 'object',
      additionalProperties: false,
      properties: {
        branchName: {type: 'string'},
        id: {type: 'string'},
        repositoryNameWithOwner: {type: 'string'}
      }
    },
    message: {
      type: 'object',
      additionalProperties: false,
      required: ['headline'],
      properties: {headline: {type: 'string', minLength: 1}, body: {type: 'string'}}
    },
    fileChanges: {
      type: 'object',
      additionalProperties: false,
      properties: {
        additions: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['path', 'contents'],
            properties: {path: {type: 'string'}, contents: {type: 'string'}}
          }
        },
        deletions: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['path'],
            properties: {path: {type: 'string'}}
          }
        }
      }
    }
  }
})

async function resolveCommit(repo: DoubleRepo, ref: string): Promise<string | undefined> {
  return (
    (await revParse(repo.gitDir, `refs/heads/${ref}^{commit}`)) ??
    (/^[0-9a-f]{7,40}$/.test(ref) ? await revParse(repo.gitDir, `${ref}^{commit}`) : undefined)
  )
}

function validation(errors: unknown[]): unknown {
  return {
    message: 'Validation Failed',
    errors,
    documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
    status: '422'
  }
}

function labelJson(name: string, i: number): unknown {
  return {id: 100 + i, node_id: `LA_${i}`, name, color: 'ededed', default: false, description: null}
}

function send(
  res: ServerResponse,
  status: number,
  data: unknown,
  headers: Record<string, string> = {}
): void {
  const text = data === undefined ? '' : JSON.stringify(data)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'x-github-media-type': 'github.v3',
    ...headers
  })
  res.end(text)
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export async function branchSha(gitDir: string, branch: string): Promise<string | undefined> {
  if (!branch) return undefined
  const out = await execGit(['rev-parse', '--verify', '-q', `refs/heads/${branch}`], {
    cwd: gitDir,
    allowFailure: true
  })
  return out.code === 0 ? out.stdout.trim() : undefined
}

async function isAncestor(gitDir: string, a: string, b: string): Promise<boolean> {
  const out = await execGit(['merge-base', '--is-ancestor', a, b], {
    cwd: gitDir,
    allowFailure: true
  })
  return out.code === 0
}

/** A 403 secondary rate limit as GitHub sends it. */
export function secondaryRateLimit(
  retryAfterSeconds: number
): Omit<InjectedFailure, 'method' | 'path' | 'times'> {
  return {
    status: 403,
    headers: {'retry-after': String(retryAfterSeconds)},
    body: {
      message:
        'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.',
      documentation_url:
        'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
      status: '403'
    }
  }
}

/** A 429 primary rate limit (quota exhausted until `reset`). */
export function primaryRateLimit(
  resetInSeconds: number
): Omit<InjectedFailure, 'method' | 'path' | 'times'> {
  return {
    status: 429,
    headers: {
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-used': '5000',
      'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + resetInSeconds),
      'retry-after': String(resetInSeconds)
    },
    body: {
      message: 'API rate limit exceeded for installation ID 1.',
      documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
      status: '429'
    }
  }
}
