import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import * as http from 'node:http'
import * as https from 'node:https'
import type {AddressInfo} from 'node:net'
import {Ajv, type ValidateFunction} from 'ajv'
import addFormatsModule from 'ajv-formats'

/**
 * An in-process Argo CD API server that behaves like the real one where our
 * client can tell the difference: grpc-gateway error bodies and codes, RBAC
 * (including 403 for a missing app), the Create/upsert merge rules, the
 * Content-Type enforcement, the watch stream, and a small application
 * controller (compare -> auto-sync -> operation -> health). Every request is
 * checked against the swagger subset with unknown fields rejected: Go's
 * decoder would drop them silently, which is exactly the bug to catch here.
 */

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv
const SWAGGER_PATH = '/work/shared/reference/argocd-swagger-subset.json'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

// ---------------------------------------------------------------- schema ---

interface SwaggerParam {
  name: string
  in: 'path' | 'query' | 'body'
  type?: string
  schema?: {$ref: string}
}

interface Route {
  method: string
  template: string
  regex: RegExp
  names: string[]
  params: SwaggerParam[]
}

/** Swagger 2.0 with `additionalProperties: false` added to every object that lists its properties. */
export class SwaggerSubsetValidator {
  readonly routes: Route[] = []
  private readonly ajv: Ajv
  private readonly cache = new Map<string, ValidateFunction>()

  constructor(path = SWAGGER_PATH) {
    const spec = JSON.parse(readFileSync(path, 'utf8')) as {
      paths: Record<string, Record<string, {parameters?: SwaggerParam[]}>>
      definitions: Record<string, unknown>
    }
    const strict = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(strict)
      if (!node || typeof node !== 'object') return node
      const out: Json = {}
      for (const [k, v] of Object.entries(node)) {
        if (k === 'title' || k === 'description') continue
        if (k === '$ref' && typeof v === 'string')
          out[k] = v.replace('#/definitions/', 'argocd#/definitions/')
        else out[k] = strict(v)
      }
      if (out.properties && out.additionalProperties === undefined && !out.allOf)
        out.additionalProperties = false
      return out
    }
    this.ajv = new Ajv({strict: false, allErrors: true})
    addFormats(this.ajv)
    this.ajv.addSchema({$id: 'argocd', definitions: strict(spec.definitions)})
    for (const [template, ops] of Object.entries(spec.paths)) {
      const names: string[] = []
      const pattern = template
        .split(/(\{[^}]+\})/)
        .map(part => {
          if (part.startsWith('{')) {
            names.push(part.slice(1, -1))
            return '([^/]+)'
          }
          return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')
        })
        .join('')
      for (const [method, op] of Object.entries(ops)) {
        this.routes.push({
          method: method.toUpperCase(),
          template,
          regex: new RegExp(`^${pattern}$`),
          names,
          params: op.parameters ?? []
        })
      }
    }
  }

  validator(definition: string): ValidateFunction {
    let v = this.cache.get(definition)
    if (!v) {
      v = this.ajv.compile({$ref: `argocd#/definitions/${definition}`})
      this.cache.set(definition, v)
    }
    return v
  }

  validate(definition: string, data: unknown): string[] {
    const v = this.validator(definition)
    if (v(data)) return []
    return (v.errors ?? []).map(
      e =>
        `${definition}${e.instancePath} ${e.message}${e.params && 'additionalProperty' in e.params ? ` '${e.params.additionalProperty}'` : ''}`
    )
  }

  /** Errors for a request; [] when the path, method, query and body all match the description. */
  check(
    method: string,
    pathname: string,
    query: URLSearchParams,
    body: string
  ): {route?: Route; errors: string[]} {
    const candidates = this.routes.filter(r => r.regex.test(pathname))
    if (!candidates.length) return {errors: [`${method} ${pathname}: no such path in the API`]}
    // Literal segments win over parameters, as in the gateway's router.
    const route = candidates.find(r => r.method === method)
    if (!route)
      return {
        errors: [
          `${method} ${pathname}: method not allowed (have ${candidates.map(c => c.method).join(',')})`
        ]
      }
    const errors: string[] = []
    for (const key of new Set(query.keys())) {
      const p = route.params.find(x => x.in === 'query' && x.name === key)
      if (!p) {
        errors.push(`${method} ${route.template}: unknown query parameter '${key}'`)
        continue
      }
      if (p.type === 'boolean') {
        for (const v of query.getAll(key))
          if (v !== 'true' && v !== 'false') errors.push(`query ${key}=${v} is not a boolean`)
      }
      if (p.type !== 'array' && query.getAll(key).length > 1)
        errors.push(`query ${key} given more than once`)
    }
    const bodyParam = route.params.find(p => p.in === 'body')
    if (bodyParam?.schema) {
      let data: unknown
      try {
        data = JSON.parse(body)
      } catch {
        errors.push(`${method} ${route.template}: body is not JSON`)
        return {route, errors}
      }
      errors.push(...this.validate(bodyParam.schema.$ref.replace('#/definitions/', ''), data))
    } else if (body.length) {
      errors.push(`${method} ${route.template}: this call takes no body`)
    }
    return {route, errors}
  }
}

let sharedValidator: SwaggerSubsetValidator | undefined
export function swaggerValidator(): SwaggerSubsetValidator {
  sharedValidator ??= new SwaggerSubsetValidator()
  return sharedValidator
}

// ----------------------------------------------------------------- state ---

export interface Policy {
  /** get | create | update | sync | * */
  action: string
  /** project/app, with * globs */
  object: string
}

export interface TokenInfo {
  subject: string
  expired?: boolean
  policies: Policy[]
}

export interface Project {
  sourceRepos: string[]
  destinations: {server?: string; name?: string; namespace: string}[]
  /** Namespaces whose Applications may use this project (apps outside the control plane). */
  sourceNamespaces: string[]
}

/**
 * healthy/degraded/stuck/comparison-error/sync-fail as before; suspended: a
 * paused rollout (health Suspended); flapping: Degraded for `flapMs`, then
 * Healthy (a rollout passing through a bad pod).
 */
export type Outcome =
  'healthy' | 'degraded' | 'stuck' | 'comparison-error' | 'sync-fail' | 'suspended' | 'flapping'

export interface Behavior {
  outcome: Outcome
  /** The outcome per revision the app resolves to (a bad tag degrades, the old one is healthy). */
  outcomeFor?: (revision: string) => Outcome
  /** The controller's reaction time to a spec change. */
  reconcileMs?: number
  /** How long a sync operation runs. */
  operationMs?: number
  /** Compare (and start auto-sync) right after answering the write, before the client's next call. */
  immediateReconcile?: boolean
  /** Live resources no longer in git: OutOfSync with requiresPruning until a sync with prune removes them. */
  orphans?: {kind: string; name: string}[]
  /** With outcome 'flapping': how long the transient Degraded lasts. */
  flapMs?: number
  /**
   * When the operation finishes, keep the previous health and reconciledAt
   * until the next reconcile (`reconcileMs` later), as the real controller does.
   */
  healthLag?: boolean
}

export interface LoggedRequest {
  method: string
  path: string
  query: Record<string, string>
  headers: http.IncomingHttpHeaders
  body?: Json
  rawBody: string
  status?: number
  code?: number
}

export interface Fault {
  method: string
  path: string | RegExp
  /** 'reset' destroys the socket without an answer; `raw` is sent as the JSON body text verbatim. */
  reply: 'reset' | {status: number; body?: Json | string; raw?: string}
  times: number
}

interface Subscriber {
  res: http.ServerResponse
  key: string
  token: string
  sse: boolean
  sent: number
  /** The client's resourceVersion: the server drops older events. */
  since?: bigint
}

interface Deployed {
  source: Json
  revision: string
}

interface StoredApp {
  app: Json
  deployed?: Deployed
  timers: NodeJS.Timeout[]
  /** Snapshots as the informer cache saw them, oldest first (for informerLag). */
  history: Json[]
  /** Orphans already pruned by a sync with prune. */
  pruned?: boolean
  /** healthLag: the operation finished, the next reconcile computes the new pods' health. */
  settling?: boolean
}

export const IN_CLUSTER = 'https://kubernetes.default.svc'

function rfc3339(d = new Date()): string {
  // metav1.Time marshals with second precision.
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function shaOf(revision: string, heads?: Map<string, string>): string {
  if (/^[0-9a-f]{40}$/i.test(revision)) return revision.toLowerCase()
  return heads?.get(revision) ?? createHash('sha1').update(revision).digest('hex')
}

function glob(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map(s => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
      .join('.*')}$`
  )
  return re.test(value)
}

/** encoding/json with omitempty, roughly: what the server would echo for a value. */
function normalize(v: unknown, key?: string): unknown {
  if (Array.isArray(v)) return v.length ? v.map(x => normalize(x)) : undefined
  if (v && typeof v === 'object') {
    const out: Json = {}
    for (const [k, x] of Object.entries(v)) {
      const n = normalize(x, k)
      if (n === undefined || n === '' || (n === false && k !== 'enabled')) continue
      out[k] = n
    }
    if (!Object.keys(out).length && key !== 'automated') return undefined
    return out
  }
  return v === null ? undefined : v
}

function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.keys(x)
            .sort()
            .map(k => [k, x[k]])
        )
      : x
  )
}

function fakeJwt(subject: string, n: number): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${b64({alg: 'HS256', typ: 'JWT'})}.${b64({sub: subject, jti: `t${n}`, iat: 1700000000})}.${b64(`sig-${n}-${subject}`)}`
}

// ---------------------------------------------------------------- server ---

export class ArgoCdDouble {
  url = ''
  readonly validator = swaggerValidator()
  readonly requests: LoggedRequest[] = []
  readonly violations: string[] = []
  readonly tokens = new Map<string, TokenInfo>()
  readonly projects = new Map<string, Project>()
  readonly clusters = new Map<string, string>([['in-cluster', IN_CLUSTER]])
  readonly apps = new Map<string, StoredApp>()
  readonly behaviors = new Map<string, Behavior>()
  readonly faults: Fault[] = []
  /** Drop the watch connection once, after this many events on it. */
  dropStreamAfter?: number
  /** Answer the stream path with a plain-text 404, like a proxy that doesn't route it. */
  streamUnavailable = false
  /**
   * The watch lists from an informer cache that lags behind the last write:
   * its first event is the app as it was *before* the latest change, and
   * the current state follows `stepMs` later. Events older than the
   * client's `resourceVersion` are dropped, as the real server does.
   */
  informerLag = false
  /** A validating write (validate=true) renders the manifests this long before writing. */
  slowValidateMs = 0
  /** A validating write fails to render with this message: 400/3 InvalidSpecError, nothing written. */
  renderError?: string
  /** When set, only these app namespaces (besides the control plane's) are enabled: others get 500/2. */
  enabledNamespaces?: string[]
  /** Destination servers the server cannot reach while validating: 500/2. */
  unreachableClusters = new Set<string>()
  /** A sync window blocks syncs: POST …/sync answers 403/7 "blocked by sync window". */
  syncWindowClosed = false
  /**
   * The old, leaky answer: "permission denied: applications, get, p/a" for an
   * app the token may not read. The real server answers the bare "permission
   * denied" (CVE-2022-41354), which is the default.
   */
  detailedGetDenials = false
  /** Where branches and tags point; a refresh (or reconcile) resolves them through this. */
  readonly branchHeads = new Map<string, string>()
  stepMs = 25
  controlPlaneNamespace = 'argocd'
  private server?: http.Server
  private subscribers: Subscriber[] = []
  private dropped = false
  private tokenCount = 0
  private rv = 100
  private uid = 0

  /** A token with the given policies; `allow('*')` for everything. */
  token(
    subject: string,
    policies: Policy[] = [{action: '*', object: '*/*'}],
    expired = false
  ): string {
    const t = fakeJwt(subject, ++this.tokenCount)
    this.tokens.set(t, {subject, policies, expired})
    return t
  }

  addProject(name: string, project: Partial<Project> = {}): void {
    this.projects.set(name, {
      sourceRepos: ['*'],
      destinations: [{server: '*', name: '*', namespace: '*'}],
      sourceNamespaces: ['*'],
      ...project
    })
  }

  behave(app: string, behavior: Behavior): void {
    this.behaviors.set(app, behavior)
  }

  key(name: string, ns?: string): string {
    return `${ns || this.controlPlaneNamespace}/${name}`
  }

  get(name: string, ns?: string): Json | undefined {
    return this.apps.get(this.key(name, ns))?.app
  }

  /** Puts an app in place as if it had been deployed before (status included). */
  seed(app: Json, opts: {deployed?: boolean; at?: Date} = {}): Json {
    const ns = app.metadata.namespace || this.controlPlaneNamespace
    const stored: Json = normalize(structuredClone(app)) as Json
    stored.metadata = {
      ...stored.metadata,
      namespace: ns,
      uid: `uid-${++this.uid}`,
      resourceVersion: String(++this.rv),
      generation: 1,
      creationTimestamp: rfc3339(opts.at)
    }
    const entry: StoredApp = {app: stored, timers: [], history: [structuredClone(stored)]}
    this.apps.set(this.key(stored.metadata.name, ns), entry)
    if (opts.deployed) {
      const at = rfc3339(opts.at ?? new Date(Date.now() - 3600_000))
      const revision = this.sha(stored.spec.source?.targetRevision ?? 'HEAD')
      entry.deployed = {source: structuredClone(stored.spec.source), revision}
      stored.status = {
        sync: {
          status: 'Synced',
          revision,
          comparedTo: {
            source: structuredClone(stored.spec.source),
            destination: structuredClone(stored.spec.destination)
          }
        },
        health: {status: 'Healthy'},
        reconciledAt: at,
        operationState: {
          phase: 'Succeeded',
          message: 'successfully synced (all tasks run)',
          startedAt: at,
          finishedAt: at,
          operation: {sync: {revision}, initiatedBy: {automated: true}},
          syncResult: {
            revision,
            source: structuredClone(stored.spec.source),
            resources: this.syncResults(stored, 'Synced')
          }
        },
        resources: this.resources(stored, 'Synced', 'Healthy'),
        sourceType: 'Plugin'
      }
      entry.history = [structuredClone(stored)]
    }
    return stored
  }

  /** Changes a stored app as an outside actor would (status included) and tells watchers. */
  mutate(name: string, fn: (app: Json) => void, ns?: string): void {
    const stored = this.apps.get(this.key(name, ns))!
    fn(stored.app)
    this.bump(name, stored.app)
  }

  sha(revision: string): string {
    return shaOf(revision, this.branchHeads)
  }

  /** Plain HTTP, or HTTPS when given a key and certificate (for --ca-file / --insecure). */
  async start(tls?: {key: string; cert: string}): Promise<this> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) =>
      void this.handle(req, res)
    this.server = tls ? https.createServer(tls, handler) : http.createServer(handler)
    await new Promise<void>(r => this.server!.listen(0, '127.0.0.1', r))
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  async close(): Promise<void> {
    for (const a of this.apps.values()) a.timers.forEach(clearTimeout)
    this.pushTimers.forEach(clearTimeout)
    for (const s of this.subscribers) s.res.destroy()
    this.server?.closeAllConnections()
    await new Promise(r => this.server?.close(r))
  }

  /** Requests to a path (exact or pattern), for assertions. */
  calls(method: string, path: string | RegExp): LoggedRequest[] {
    return this.requests.filter(
      r => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path))
    )
  }

  // -------------------------------------------------------------- plumbing

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const rawBody = Buffer.concat(chunks).toString('utf8')
    const url = new URL(req.url ?? '/', 'http://x')
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      rawBody
    }
    try {
      entry.body = rawBody ? JSON.parse(rawBody) : undefined
    } catch {
      // kept raw; the validator reports it
    }
    this.requests.push(entry)
    const reply = (status: number, body: Json | string, code?: number) => {
      entry.status = status
      entry.code = code
      if (typeof body === 'string') {
        res.writeHead(status, {'Content-Type': 'text/plain; charset=utf-8'})
        res.end(body)
      } else {
        res.writeHead(status, {'Content-Type': 'application/json'})
        res.end(JSON.stringify(body))
      }
    }
    const fail = (status: number, code: number, message: string) =>
      reply(status, {error: message, code, message}, code)

    const fault = this.faults.find(
      f =>
        f.times > 0 &&
        f.method === entry.method &&
        (typeof f.path === 'string' ? f.path === entry.path : f.path.test(entry.path))
    )
    if (fault) {
      fault.times--
      if (fault.reply === 'reset') {
        entry.status = 0
        req.socket.destroy()
        return
      }
      if (fault.reply.raw !== undefined) {
        entry.status = fault.reply.status
        res.writeHead(fault.reply.status, {'Content-Type': 'application/json'})
        res.end(fault.reply.raw)
        return
      }
      return reply(
        fault.reply.status,
        fault.reply.body ?? {error: 'upstream', code: 14, message: 'upstream connect error'}
      )
    }

    if (!url.pathname.startsWith('/api/')) return reply(404, 'Not Found')
    if (
      entry.method !== 'GET' &&
      req.headers['content-type']?.toLowerCase() !== 'application/json'
    ) {
      return reply(415, 'Invalid content type')
    }
    if (this.streamUnavailable && url.pathname === '/api/v1/stream/applications')
      return reply(404, 'Not Found')

    const {route, errors} = this.validator.check(
      entry.method,
      url.pathname,
      url.searchParams,
      rawBody
    )
    if (errors.length || !route) {
      this.violations.push(...errors.map(e => `request: ${e}`))
      return fail(400, 3, `request does not match the API description: ${errors.join('; ')}`)
    }

    if (route.template === '/api/version') return reply(200, {Version: 'v3.6.0+double'})

    const auth = req.headers.authorization ?? ''
    const bearer = auth.startsWith('Bearer ') ? auth.slice(7) : ''
    // The server ignores anything that isn't shaped like a JWT.
    const token = bearer.split('.').length === 3 ? bearer : ''
    const info = this.tokens.get(token)
    if (!token) return fail(401, 16, 'no session information')
    if (!info) return fail(401, 16, 'invalid session: token signature is invalid')
    if (info.expired) return fail(401, 16, 'invalid session: token is expired')

    const m = route.regex.exec(url.pathname)!
    const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]))
    const ctx = {req, res, url, token, info, body: entry.body as Json, params, reply, fail}
    switch (`${route.method} ${route.template}`) {
      case 'GET /api/v1/session/userinfo':
        return reply(200, {loggedIn: true, username: info.subject})
      case 'GET /api/v1/applications':
        return this.listApps(ctx)
      case 'GET /api/v1/applications/{name}':
        return this.getApp(ctx)
      case 'POST /api/v1/applications':
        return void this.createApp(ctx)
      case 'PUT /api/v1/applications/{application.metadata.name}':
        return void this.updateApp(ctx)
      case 'POST /api/v1/applications/{name}/sync':
        return this.syncApp(ctx)
      case 'GET /api/v1/stream/applications':
        return this.watch(ctx)
      default:
        return fail(501, 12, `the double does not implement ${route.method} ${route.template}`)
    }
  }

  private can(info: TokenInfo, action: string, project: string, app: string): boolean {
    return info.policies.some(
      p => (p.action === '*' || p.action === action) && glob(p.object, `${project}/${app}`)
    )
  }

  private denied(info: TokenInfo, action: string, object: string): string {
    return `permission denied: applications, ${action}, ${object}, sub: ${info.subject}, iat: 2023-11-14T22:13:20Z`
  }

  private respondApp(reply: (s: number, b: Json) => void, app: Json): void {
    const errors = this.validator.validate('v1alpha1Application', app)
    // The double's own answers must match the description too.
    this.violations.push(...errors.map(e => `response: ${e}`))
    reply(200, app)
  }

  // -------------------------------------------------------------- handlers

  private getApp(ctx: Ctx): void {
    const ns = ctx.url.searchParams.get('appNamespace') || undefined
    const project = ctx.url.searchParams.get('project') || undefined
    const key = this.key(ctx.params.name, ns)
    const stored = this.apps.get(key)
    const objectProject = stored?.app.spec.project ?? project ?? '*'
    if (!stored || (project && stored.app.spec.project !== project)) {
      // CVE-2022-41354: without a project, a missing app is indistinguishable from a forbidden one.
      if (!project) return ctx.fail(403, 7, 'permission denied')
      return ctx.fail(404, 5, `applications.argoproj.io "${ctx.params.name}" not found`)
    }
    if (!this.can(ctx.info, 'get', objectProject, ctx.params.name)) {
      return ctx.fail(403, 7, this.getDenied(ctx.info, `${objectProject}/${ctx.params.name}`))
    }
    if (ctx.url.searchParams.get('refresh')) {
      // The server marks the app, and answers once the controller has compared it again.
      this.reconcile(key)
    }
    this.respondApp(ctx.reply, stored.app)
  }

  /**
   * List(): apps the token may `get`, filtered as the server does: `repo` is
   * an exact string compare with any source's repoURL (FilterByRepo), the
   * selector matches labels (equality terms), `projects` by name.
   */
  private listApps(ctx: Ctx): void {
    const q = ctx.url.searchParams
    const repo = q.get('repo') || undefined
    const projects = [...q.getAll('projects'), ...q.getAll('project')]
    const ns = q.get('appNamespace') || undefined
    const terms = (q.get('selector') ?? '')
      .split(',')
      .map(t => t.trim())
      .filter(Boolean)
      .map(t =>
        t
          .split(/!?=+/)
          .map(x => x.trim())
          .concat(t.includes('!=') ? ['!'] : [])
      )
    const items: Json[] = []
    for (const stored of this.apps.values()) {
      const app = stored.app
      if (ns && app.metadata.namespace !== ns) continue
      if (projects.length && !projects.includes(app.spec.project)) continue
      if (!this.can(ctx.info, 'get', app.spec.project, app.metadata.name)) continue
      const sources: Json[] = app.spec.sources ?? (app.spec.source ? [app.spec.source] : [])
      if (repo && !sources.some(src => src.repoURL === repo)) continue
      const labels: Record<string, string> = app.metadata.labels ?? {}
      const ok = terms.every(([k, v, neg]) =>
        v === undefined ? k in labels : neg ? labels[k] !== v : labels[k] === v
      )
      if (!ok) continue
      items.push(app)
    }
    this.listCalls++
    const body = {metadata: {resourceVersion: String(this.rv)}, items}
    this.violations.push(
      ...this.validator.validate('v1alpha1ApplicationList', body).map(e => `response: ${e}`)
    )
    ctx.reply(200, body)
  }

  /** How many List calls were answered (discovery must stay a call or two). */
  listCalls = 0

  /**
   * A commit landed on `branch` of the config repo: the branch (and HEAD, when
   * it is the default branch) resolves to `sha`, and after `delayMs` (the
   * 3-minute poll or a webhook) the controller compares every app that follows it,
   * which starts auto-sync where it is on.
   */
  pushed(branch: string, sha: string, o: {delayMs?: number; defaultBranch?: boolean} = {}): void {
    this.branchHeads.set(branch, sha)
    this.branchHeads.set(`refs/heads/${branch}`, sha)
    if (o.defaultBranch ?? true) this.branchHeads.set('HEAD', sha)
    const t = setTimeout(() => {
      for (const [key, stored] of this.apps) {
        const rev = stored.app.spec.source?.targetRevision ?? 'HEAD'
        if (this.sha(rev) === sha) this.reconcile(key)
      }
    }, o.delayMs ?? this.stepMs)
    this.pushTimers.push(t)
  }

  private pushTimers: NodeJS.Timeout[] = []

  /** The bare answer the real server gives for a `get` the token may not make. */
  private getDenied(info: TokenInfo, object: string): string {
    return this.detailedGetDenials ? this.denied(info, 'get', object) : 'permission denied'
  }

  /**
   * validateAndNormalizeApp: project, namespace, destination, (validate) the
   * render, then the project's repo and destination rules. Answers the
   * failure itself and returns undefined.
   */
  private async checkWrite(
    ctx: Ctx,
    body: Json,
    validate: boolean
  ): Promise<{name: string; ns: string; project: string; wanted: Json} | undefined> {
    const name: string = body.metadata?.name
    const ns: string = body.metadata?.namespace || this.controlPlaneNamespace
    const spec: Json = body.spec ?? {}
    const project: string = spec.project || 'default'
    const proj = this.projects.get(project)
    const src: Json = spec.source ?? {}
    const dest: Json = spec.destination ?? {}
    if (
      !proj ||
      (ns !== this.controlPlaneNamespace && !proj.sourceNamespaces.some(p => glob(p, ns)))
    ) {
      ctx.fail(400, 3, `app is not allowed in project "${project}", or the project does not exist`)
      return undefined
    }
    if (
      ns !== this.controlPlaneNamespace &&
      this.enabledNamespaces &&
      !this.enabledNamespaces.includes(ns)
    ) {
      // NamespaceNotPermittedError is a plain Go error: gRPC 2, HTTP 500.
      ctx.fail(500, 2, `namespace '${ns}' is not permitted`)
      return undefined
    }
    if (dest.name && dest.server) {
      ctx.fail(
        400,
        3,
        `application destination spec for ${name} is invalid: application destination can't have both name and server defined: ${dest.name} ${dest.server}`
      )
      return undefined
    }
    const server = dest.server ?? this.clusters.get(dest.name)
    if (!server || ![...this.clusters.values()].includes(server)) {
      ctx.fail(
        400,
        3,
        `application destination spec for ${name} is invalid: unable to find destination server: there are no clusters with this name: ${dest.name ?? dest.server}`
      )
      return undefined
    }
    if (validate) {
      const tools = [
        src.kustomize && 'Kustomize',
        src.helm && 'Helm',
        src.directory && 'Directory',
        src.plugin && 'Plugin'
      ].filter(Boolean)
      if (!src.repoURL) {
        ctx.fail(
          400,
          3,
          `application spec for ${name} is invalid: InvalidSpecError: spec.source.repoURL and either spec.source.path, spec.source.chart, or spec.source.ref are required`
        )
        return undefined
      }
      if (tools.length > 1) {
        // ExplicitType fails as a plain error on the create path: code 2.
        ctx.fail(
          500,
          2,
          `error validating and normalizing app: error validating the repo: error verifying source type: multiple application sources defined: ${tools.join(',')}`
        )
        return undefined
      }
      if (this.unreachableClusters.has(server)) {
        ctx.fail(
          500,
          2,
          `error validating and normalizing app: error validating the repo: error getting k8s server version: Get "${server}/version?timeout=32s": dial tcp 10.0.0.9:443: connect: connection refused`
        )
        return undefined
      }
      if (this.slowValidateMs) {
        // GenerateManifest: the repo-server renders (plugins included) before anything is written.
        await new Promise(r => setTimeout(r, this.slowValidateMs))
        if (ctx.res.destroyed || ctx.req.socket.destroyed) return undefined // context canceled
      }
      if (this.renderError) {
        ctx.fail(
          400,
          3,
          `application spec for ${name} is invalid: InvalidSpecError: Unable to generate manifests in ${src.path}: rpc error: code = Unknown desc = ${this.renderError}`
        )
        return undefined
      }
    }
    const repoOk = proj.sourceRepos.some(r => glob(r, src.repoURL ?? ''))
    const destOk = proj.destinations.some(d =>
      (d.server ? glob(d.server, server) : false) ||
      (d.name && dest.name ? glob(d.name, dest.name) : false)
        ? glob(d.namespace, dest.namespace ?? '')
        : false
    )
    if (!repoOk) {
      ctx.fail(400, 3, `application repo ${src.repoURL} is not permitted in project '${project}'`)
      return undefined
    }
    if (!destOk) {
      ctx.fail(
        400,
        3,
        `application destination server '${server}' and namespace '${dest.namespace}' do not match any of the allowed destinations in project '${project}'`
      )
      return undefined
    }
    return {name, ns, project, wanted: normalize({...spec, project}) as Json}
  }

  private async createApp(ctx: Ctx): Promise<void> {
    const body = ctx.body
    const upsert = ctx.url.searchParams.get('upsert') === 'true'
    const validate = ctx.url.searchParams.get('validate') !== 'false'
    const name: string = body.metadata?.name
    const project: string = body.spec?.project || 'default'
    if (!name) return ctx.fail(400, 3, 'application name is required')
    if (!this.can(ctx.info, 'create', project, name)) {
      return ctx.fail(403, 7, this.denied(ctx.info, 'create', `${project}/${name}`))
    }
    const checked = await this.checkWrite(ctx, body, validate)
    if (!checked) return
    const {ns, wanted} = checked
    const key = this.key(name, ns)
    const stored = this.apps.get(key)
    if (!stored) {
      const app = this.seed({metadata: {...body.metadata, namespace: ns}, spec: wanted})
      delete app.operation // an operation in a create request is dropped
      this.afterWrite(key)
      return this.respondApp(ctx.reply, app)
    }
    const live = stored.app
    const same =
      stable(normalize(live.spec)) === stable(wanted) &&
      stable(normalize(live.metadata.labels) ?? {}) ===
        stable(normalize(body.metadata.labels) ?? {}) &&
      stable(normalize(live.metadata.annotations) ?? {}) ===
        stable(normalize(body.metadata.annotations) ?? {}) &&
      stable(live.metadata.finalizers ?? []) === stable(body.metadata.finalizers ?? [])
    if (same) return this.respondApp(ctx.reply, live)
    if (!upsert)
      return ctx.fail(
        400,
        3,
        'existing application spec is different, use upsert flag to force update'
      )
    if (!this.can(ctx.info, 'update', project, name)) {
      return ctx.fail(403, 7, this.denied(ctx.info, 'update', `${project}/${name}`))
    }
    if (live.spec.project !== project && !this.can(ctx.info, 'update', live.spec.project, name)) {
      return ctx.fail(403, 7, this.denied(ctx.info, 'update', `${live.spec.project}/${name}`))
    }
    // updateApp(merge=true): spec replaced, labels/annotations merged, finalizers replaced.
    this.replaceApp(key, body, wanted, true)
    this.respondApp(ctx.reply, live)
  }

  /** PUT /api/v1/applications/{name}: Update(), validateAndUpdateApp(merge=false). */
  private async updateApp(ctx: Ctx): Promise<void> {
    const body = ctx.body
    const validate = ctx.url.searchParams.get('validate') !== 'false'
    const name: string = ctx.params['application.metadata.name']
    const project: string = body.spec?.project || 'default'
    if (body.metadata?.name && body.metadata.name !== name)
      return ctx.fail(400, 3, 'name in body and path differ')
    if (!this.can(ctx.info, 'update', project, name)) {
      return ctx.fail(403, 7, this.denied(ctx.info, 'update', `${project}/${name}`))
    }
    const key = this.key(name, body.metadata?.namespace)
    const stored = this.apps.get(key)
    if (!stored) return ctx.fail(403, 7, 'permission denied')
    if (!this.can(ctx.info, 'get', stored.app.spec.project, name))
      return ctx.fail(403, 7, this.getDenied(ctx.info, `${stored.app.spec.project}/${name}`))
    const checked = await this.checkWrite(
      ctx,
      {...body, metadata: {...body.metadata, name}},
      validate
    )
    if (!checked) return
    const live = stored.app
    if (live.spec.project !== project && !this.can(ctx.info, 'update', live.spec.project, name)) {
      return ctx.fail(403, 7, this.denied(ctx.info, 'update', `${live.spec.project}/${name}`))
    }
    // merge=false: labels and annotations are replaced, so keys can be removed.
    this.replaceApp(key, body, checked.wanted, false)
    this.respondApp(ctx.reply, live)
  }

  private replaceApp(key: string, body: Json, wanted: Json, merge: boolean): void {
    const live = this.apps.get(key)!.app
    live.spec = wanted
    const labels = merge
      ? {...live.metadata.labels, ...body.metadata.labels}
      : {...body.metadata.labels}
    const annotations = merge
      ? {...live.metadata.annotations, ...body.metadata.annotations}
      : {...body.metadata.annotations}
    live.metadata.labels = Object.keys(labels).length ? labels : undefined
    live.metadata.annotations = Object.keys(annotations).length ? annotations : undefined
    live.metadata.finalizers = body.metadata.finalizers?.length
      ? [...body.metadata.finalizers]
      : undefined
    live.metadata = normalize(live.metadata) as Json
    live.metadata.generation = Number(live.metadata.generation ?? 1) + 1
    this.afterWrite(key)
  }

  private syncApp(ctx: Ctx): void {
    const ns = ctx.body?.appNamespace || undefined
    const stored = this.apps.get(this.key(ctx.params.name, ns))
    if (!stored) return ctx.fail(403, 7, 'permission denied')
    const app = stored.app
    const obj = `${app.spec.project}/${ctx.params.name}`
    if (!this.can(ctx.info, 'get', app.spec.project, ctx.params.name))
      return ctx.fail(403, 7, this.getDenied(ctx.info, obj))
    if (this.syncWindowClosed) return ctx.fail(403, 7, 'cannot sync: blocked by sync window')
    if (!this.can(ctx.info, 'sync', app.spec.project, ctx.params.name))
      return ctx.fail(403, 7, this.denied(ctx.info, 'sync', obj))
    if (ctx.body?.name && ctx.body.name !== ctx.params.name)
      return ctx.fail(400, 3, 'name in body and path differ')
    if (app.operation) return ctx.fail(400, 9, 'another operation is already in progress')
    const revision = this.sha(app.spec.source?.targetRevision ?? 'HEAD')
    app.operation = normalize({
      sync: {revision, prune: ctx.body?.prune, syncOptions: ctx.body?.syncOptions?.items},
      initiatedBy: {username: ctx.info.subject}
    })
    if (app.status) delete app.status.operationState
    this.bump(ctx.params.name, app)
    this.respondApp(ctx.reply, app)
    this.startOperation(this.key(ctx.params.name, ns))
  }

  private watch(ctx: Ctx): void {
    const name = ctx.url.searchParams.get('name')
    const ns = ctx.url.searchParams.get('appNamespace') || undefined
    const rv = ctx.url.searchParams.get('resourceVersion')
    const sse = (ctx.req.headers.accept ?? '').includes('text/event-stream')
    ctx.res.writeHead(200, {
      'Content-Type': sse ? 'text/event-stream' : 'application/json',
      'Transfer-Encoding': 'chunked'
    })
    ctx.res.flushHeaders()
    const sub: Subscriber = {
      res: ctx.res,
      key: this.key(name ?? '', ns),
      token: ctx.token,
      sse,
      sent: 0,
      ...(rv && /^\d+$/.test(rv) ? {since: BigInt(rv)} : {})
    }
    this.subscribers.push(sub)
    ctx.res.on('close', () => (this.subscribers = this.subscribers.filter(s => s !== sub)))
    const stored = this.apps.get(sub.key)
    if (!stored) return
    const cached = stored.history.at(-2)
    if (this.informerLag && cached) {
      // The informer has not seen the latest change yet; it catches up a step later.
      this.send(sub, 'ADDED', cached)
      setTimeout(() => {
        if (this.subscribers.includes(sub)) this.send(sub, 'MODIFIED', stored.app)
      }, this.stepMs)
    } else {
      this.send(sub, 'ADDED', stored.app)
    }
  }

  private send(sub: Subscriber, type: string, app: Json): void {
    const info = this.tokens.get(sub.token)
    // Apps the token can't get are silently left out of the stream.
    if (!info || info.expired || !this.can(info, 'get', app.spec.project, app.metadata.name)) return
    // isApplicationPermitted: events older than the client's resourceVersion are dropped.
    if (sub.since !== undefined && BigInt(app.metadata.resourceVersion ?? '0') < sub.since) return
    const payload = JSON.stringify({result: {type, application: app}})
    this.violations.push(
      ...this.validator
        .validate('v1alpha1ApplicationWatchEvent', {type, application: app})
        .map(e => `stream: ${e}`)
    )
    sub.res.write(sub.sse ? `data: ${payload}\n\n` : `${payload}\n`)
    sub.sent++
    if (this.dropStreamAfter !== undefined && !this.dropped && sub.sent >= this.dropStreamAfter) {
      this.dropped = true
      sub.res.socket?.destroy()
    }
  }

  // ------------------------------------------------------------ controller

  private bump(_name: string, app: Json): void {
    app.metadata.resourceVersion = String(++this.rv)
    const key = this.key(app.metadata.name, app.metadata.namespace)
    const stored = this.apps.get(key)
    if (stored) {
      stored.history.push(structuredClone(app))
      if (stored.history.length > 8) stored.history.shift()
    }
    for (const s of this.subscribers.filter(x => x.key === key)) this.send(s, 'MODIFIED', app)
  }

  private behavior(app: Json): Required<Behavior> {
    const b = this.behaviors.get(app.metadata.name)
    const revision = this.sha(app.spec.source?.targetRevision ?? 'HEAD')
    return {
      outcome: b?.outcomeFor?.(revision) ?? b?.outcome ?? 'healthy',
      outcomeFor: b?.outcomeFor ?? (() => b?.outcome ?? 'healthy'),
      reconcileMs: b?.reconcileMs ?? this.stepMs,
      operationMs: b?.operationMs ?? this.stepMs * 2,
      immediateReconcile: b?.immediateReconcile ?? false,
      orphans: b?.orphans ?? [],
      flapMs: b?.flapMs ?? this.stepMs * 4,
      healthLag: b?.healthLag ?? false
    }
  }

  private later(key: string, ms: number, fn: () => void): void {
    const stored = this.apps.get(key)
    if (!stored) return
    const t = setTimeout(() => {
      stored.timers = stored.timers.filter(x => x !== t)
      fn()
    }, ms)
    stored.timers.push(t)
  }

  private afterWrite(key: string): void {
    const stored = this.apps.get(key)!
    this.bump(stored.app.metadata.name, stored.app)
    const b = this.behavior(stored.app)
    if (b.immediateReconcile) setImmediate(() => this.reconcile(key))
    else this.later(key, b.reconcileMs, () => this.reconcile(key))
  }

  /** Live resources that git no longer has, until a pruning sync deletes them. */
  private orphans(app: Json): Json[] {
    const stored = this.apps.get(this.key(app.metadata.name, app.metadata.namespace))
    if (!stored || stored.pruned) return []
    return this.behavior(app).orphans.map(o => ({
      version: 'v1',
      kind: o.kind,
      namespace: app.spec.destination?.namespace,
      name: o.name,
      status: 'OutOfSync',
      requiresPruning: true
    }))
  }

  private resources(app: Json, sync: string, health: string, message?: string): Json[] {
    const ns = app.spec.destination?.namespace
    const name = app.metadata.name
    return [
      ...this.orphans(app),
      {
        version: 'v1',
        kind: 'Service',
        namespace: ns,
        name,
        status: sync,
        health: {status: 'Healthy'}
      },
      {
        group: 'apps',
        version: 'v1',
        kind: 'Deployment',
        namespace: ns,
        name,
        status: sync,
        health: normalize({status: health, message}) as Json
      }
    ]
  }

  private syncResults(app: Json, status: string, message?: string): Json[] {
    const ns = app.spec.destination?.namespace
    const name = app.metadata.name
    return [
      {
        version: 'v1',
        kind: 'Service',
        namespace: ns,
        name,
        status: 'Synced',
        message: `service/${name} unchanged`,
        syncPhase: 'Sync'
      },
      {
        group: 'apps',
        version: 'v1',
        kind: 'Deployment',
        namespace: ns,
        name,
        status,
        message: message ?? `deployment.apps/${name} configured`,
        syncPhase: 'Sync'
      }
    ]
  }

  /** The controller's compare step: comparedTo, sync status, conditions, auto-sync. */
  reconcile(key: string): void {
    const stored = this.apps.get(key)
    if (!stored) return
    const app = stored.app
    const b = this.behavior(app)
    const revision = this.sha(app.spec.source?.targetRevision ?? 'HEAD')
    const status: Json = (app.status ??= {})
    status.reconciledAt = rfc3339()
    status.sync = {
      ...status.sync,
      revision,
      comparedTo: {
        source: structuredClone(app.spec.source),
        destination: structuredClone(app.spec.destination)
      }
    }
    if (b.outcome === 'comparison-error') {
      status.sync.status = 'Unknown'
      status.conditions = [
        {
          type: 'ComparisonError',
          message: `Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = plugin sidecar failed. error generating manifests in cmp: exit status 1: Error: Replace: could not find secret ${app.spec.source?.plugin?.env?.find((e: Json) => e.name === 'AVP_SECRET')?.value ?? 'avp'}`,
          lastTransitionTime: rfc3339()
        }
      ]
      this.bump(app.metadata.name, app)
      return
    }
    delete status.conditions
    if (stored.settling) {
      // A reconcile after the operation sees the new pods rolling out, not the old health.
      stored.settling = false
      status.health = {status: 'Progressing'}
    }
    const inSync =
      stored.deployed &&
      stable(normalize(stored.deployed.source)) === stable(normalize(app.spec.source)) &&
      stored.deployed.revision === revision &&
      !this.orphans(app).length
    status.sync.status = inSync ? 'Synced' : 'OutOfSync'
    status.health ??= {status: 'Missing'}
    status.resources = inSync
      ? status.resources
      : this.resources(
          app,
          'OutOfSync',
          stored.deployed ? (status.health.status ?? 'Healthy') : 'Missing'
        )
    const automated =
      app.spec.syncPolicy?.automated && app.spec.syncPolicy.automated.enabled !== false
    const last = status.operationState?.syncResult
    const alreadyAttempted =
      last &&
      last.revision === revision &&
      stable(normalize(last.source)) === stable(normalize(app.spec.source))
    if (!inSync && automated && !app.operation && !alreadyAttempted) {
      app.operation = {sync: {revision}, initiatedBy: {automated: true}}
      this.bump(app.metadata.name, app)
      this.startOperation(key)
      return
    }
    this.bump(app.metadata.name, app)
  }

  private startOperation(key: string): void {
    const stored = this.apps.get(key)
    if (!stored) return
    const b = this.behavior(stored.app)
    this.later(key, Math.min(this.stepMs, b.operationMs), () => {
      const app = stored.app
      if (!app.operation) return
      app.status ??= {}
      app.status.operationState = {
        operation: structuredClone(app.operation),
        phase: 'Running',
        message: 'one or more tasks are running',
        startedAt: rfc3339()
      }
      this.bump(app.metadata.name, app)
      this.later(key, b.operationMs, () => this.finishOperation(key))
    })
  }

  private finishOperation(key: string): void {
    const stored = this.apps.get(key)
    if (!stored) return
    const app = stored.app
    const b = this.behavior(app)
    const revision = this.sha(app.spec.source?.targetRevision ?? 'HEAD')
    const source = structuredClone(app.spec.source)
    const op = app.status.operationState
    const now = rfc3339()
    delete app.operation
    if (b.outcome === 'sync-fail') {
      Object.assign(op, {
        phase: 'Failed',
        message:
          'one or more objects failed to apply, reason: admission webhook "validate.kyverno.svc" denied the request',
        finishedAt: now,
        syncResult: {
          revision,
          source,
          resources: this.syncResults(
            app,
            'SyncFailed',
            'admission webhook "validate.kyverno.svc" denied the request: image tag "latest" is not allowed'
          )
        }
      })
      app.status.reconciledAt = now
      this.bump(app.metadata.name, app)
      return
    }
    stored.deployed = {source: structuredClone(source), revision}
    // Orphans: a sync with prune deletes them (Pruned); without, they stay (PruneSkipped).
    const orphans = this.orphans(app)
    const prune = !!op.operation?.sync?.prune
    if (orphans.length && prune) stored.pruned = true
    const pruneResults = orphans.map(o => ({
      version: o.version,
      kind: o.kind,
      namespace: o.namespace,
      name: o.name,
      status: prune ? 'Pruned' : 'PruneSkipped',
      message: prune ? 'pruned' : 'ignored (requires pruning)',
      syncPhase: 'Sync'
    }))
    Object.assign(op, {
      phase: 'Succeeded',
      message: 'successfully synced (all tasks run)',
      finishedAt: now,
      syncResult: {
        revision,
        source,
        resources: [...this.syncResults(app, 'Synced'), ...pruneResults]
      }
    })
    const leftOver = orphans.length && !prune
    app.status.sync = {
      status: leftOver ? 'OutOfSync' : 'Synced',
      revision,
      comparedTo: {
        source: structuredClone(source),
        destination: structuredClone(app.spec.destination)
      }
    }
    const settle = (health: string, message?: string) => {
      stored.settling = false
      app.status.health = normalize({status: health, message}) as Json
      app.status.resources = this.resources(app, 'Synced', health, message)
      app.status.reconciledAt = rfc3339()
      this.bump(app.metadata.name, app)
    }
    if (b.healthLag) {
      // Health and reconciledAt still describe the previous revision until the next reconcile.
      stored.settling = true
      app.status.resources = this.resources(
        app,
        'Synced',
        app.status.health?.status ?? 'Healthy',
        app.status.health?.message
      )
    } else {
      app.status.reconciledAt = now
      app.status.health = {status: 'Progressing'}
      app.status.resources = this.resources(
        app,
        'Synced',
        'Progressing',
        `Waiting for rollout to finish: 0 of 2 updated replicas are available...`
      )
    }
    this.bump(app.metadata.name, app)
    this.later(key, b.reconcileMs, () => {
      if (b.outcome === 'stuck') return
      const deadline = `Deployment "${app.metadata.name}" exceeded its progress deadline`
      if (b.outcome === 'degraded') return settle('Degraded', deadline)
      if (b.outcome === 'suspended') return settle('Suspended', 'Rollout is paused')
      if (b.outcome === 'flapping') {
        settle('Degraded', `Back-off pulling image for one pod; ${deadline}`)
        return this.later(key, b.flapMs, () => settle('Healthy'))
      }
      settle('Healthy')
    })
  }
}

interface Ctx {
  req: http.IncomingMessage
  res: http.ServerResponse
  url: URL
  token: string
  info: TokenInfo
  body: Json
  params: Record<string, string>
  reply: (status: number, body: Json | string, code?: number) => void
  fail: (status: number, code: number, message: string) => void
}
