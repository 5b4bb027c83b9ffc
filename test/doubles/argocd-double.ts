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
}

export type Outcome = 'healthy' | 'degraded' | 'stuck' | 'comparison-error' | 'sync-fail'

export interface Behavior {
  outcome: Outcome
  /** The controller's reaction time to a spec change. */
  reconcileMs?: number
  /** How long a sync operation runs. */
  operationMs?: number
  /** Compare (and start auto-sync) right after answering the write, before the client's next call. */
  immediateReconcile?: boolean
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
  /** 'reset' destroys the socket without an answer. */
  reply: 'reset' | {status: number; body?: Json | string}
  times: number
}

interface Subscriber {
  res: http.ServerResponse
  key: string
  token: string
  sse: boolean
  sent: number
}

interface Deployed {
  source: Json
  revision: string
}

interface StoredApp {
  app: Json
  deployed?: Deployed
  timers: NodeJS.Timeout[]
}

export const IN_CLUSTER = 'https://kubernetes.default.svc'

function rfc3339(d = new Date()): string {
  // metav1.Time marshals with second precision.
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function shaOf(revision: string): string {
  return /^[0-9a-f]{40}$/i.test(revision)
    ? revision.toLowerCase()
    : createHash('sha1').update(revision).digest('hex')
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
    const entry: StoredApp = {app: stored, timers: []}
    this.apps.set(this.key(stored.metadata.name, ns), entry)
    if (opts.deployed) {
      const at = rfc3339(opts.at ?? new Date(Date.now() - 3600_000))
      const revision = shaOf(stored.spec.source.targetRevision ?? 'HEAD')
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
    }
    return stored
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
      case 'GET /api/v1/applications/{name}':
        return this.getApp(ctx)
      case 'POST /api/v1/applications':
        return this.createApp(ctx)
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
    const stored = this.apps.get(this.key(ctx.params.name, ns))
    const objectProject = stored?.app.spec.project ?? project ?? '*'
    if (!stored || (project && stored.app.spec.project !== project)) {
      // CVE-2022-41354: without a project, a missing app is indistinguishable from a forbidden one.
      if (!project) return ctx.fail(403, 7, 'permission denied')
      return ctx.fail(404, 5, `applications.argoproj.io "${ctx.params.name}" not found`)
    }
    if (!this.can(ctx.info, 'get', objectProject, ctx.params.name)) {
      return ctx.fail(403, 7, this.denied(ctx.info, 'get', `${objectProject}/${ctx.params.name}`))
    }
    this.respondApp(ctx.reply, stored.app)
  }

  private createApp(ctx: Ctx): void {
    const body = ctx.body
    const upsert = ctx.url.searchParams.get('upsert') === 'true'
    const validate = ctx.url.searchParams.get('validate') !== 'false'
    const name: string = body.metadata?.name
    const ns: string = body.metadata?.namespace || this.controlPlaneNamespace
    const spec: Json = body.spec ?? {}
    const project: string = spec.project || 'default'
    if (!name) return ctx.fail(400, 3, 'application name is required')
    if (!this.can(ctx.info, 'create', project, name)) {
      return ctx.fail(403, 7, this.denied(ctx.info, 'create', `${project}/${name}`))
    }
    const proj = this.projects.get(project)
    const src: Json = spec.source ?? {}
    const dest: Json = spec.destination ?? {}
    if (!proj)
      return ctx.fail(
        400,
        3,
        `app is not allowed in project "${project}", or the project does not exist`
      )
    if (dest.name && dest.server) {
      return ctx.fail(
        400,
        3,
        `application destination spec for ${name} is invalid: application destination can't have both name and server defined: ${dest.name} ${dest.server}`
      )
    }
    const server = dest.server ?? this.clusters.get(dest.name)
    if (!server || ![...this.clusters.values()].includes(server)) {
      return ctx.fail(
        400,
        3,
        `application destination spec for ${name} is invalid: unable to find destination server: there are no clusters with this name: ${dest.name ?? dest.server}`
      )
    }
    if (validate) {
      const tools = [
        src.kustomize && 'Kustomize',
        src.helm && 'Helm',
        src.directory && 'Directory',
        src.plugin && 'Plugin'
      ].filter(Boolean)
      if (!src.repoURL)
        return ctx.fail(
          400,
          3,
          `application spec for ${name} is invalid: InvalidSpecError: spec.source.repoURL and either spec.source.path, spec.source.chart, or spec.source.ref are required`
        )
      if (tools.length > 1) {
        return ctx.fail(
          400,
          3,
          `application spec for ${name} is invalid: InvalidSpecError: Unable to generate manifests in ${src.path}: multiple application sources defined: ${tools.join(',')}`
        )
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
      return ctx.fail(
        400,
        3,
        `application repo ${src.repoURL} is not permitted in project '${project}'`
      )
    }
    if (!destOk) {
      return ctx.fail(
        400,
        3,
        `application destination server '${server}' and namespace '${dest.namespace}' do not match any of the allowed destinations in project '${project}'`
      )
    }

    const wanted = normalize({...spec, project}) as Json
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
    live.spec = wanted
    const labels = {...live.metadata.labels, ...body.metadata.labels}
    const annotations = {...live.metadata.annotations, ...body.metadata.annotations}
    live.metadata.labels = Object.keys(labels).length ? labels : undefined
    live.metadata.annotations = Object.keys(annotations).length ? annotations : undefined
    live.metadata.finalizers = body.metadata.finalizers?.length
      ? [...body.metadata.finalizers]
      : undefined
    live.metadata = normalize(live.metadata) as Json
    live.metadata.generation = Number(live.metadata.generation ?? 1) + 1
    this.afterWrite(key)
    this.respondApp(ctx.reply, live)
  }

  private syncApp(ctx: Ctx): void {
    const ns = ctx.body?.appNamespace || undefined
    const stored = this.apps.get(this.key(ctx.params.name, ns))
    if (!stored) return ctx.fail(403, 7, 'permission denied')
    const app = stored.app
    const obj = `${app.spec.project}/${ctx.params.name}`
    if (!this.can(ctx.info, 'get', app.spec.project, ctx.params.name))
      return ctx.fail(403, 7, this.denied(ctx.info, 'get', obj))
    if (!this.can(ctx.info, 'sync', app.spec.project, ctx.params.name))
      return ctx.fail(403, 7, this.denied(ctx.info, 'sync', obj))
    if (ctx.body?.name && ctx.body.name !== ctx.params.name)
      return ctx.fail(400, 3, 'name in body and path differ')
    if (app.operation) return ctx.fail(400, 9, 'another operation is already in progress')
    const revision = shaOf(app.spec.source.targetRevision ?? 'HEAD')
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
      sent: 0
    }
    this.subscribers.push(sub)
    ctx.res.on('close', () => (this.subscribers = this.subscribers.filter(s => s !== sub)))
    const stored = this.apps.get(sub.key)
    if (stored) this.send(sub, 'ADDED', stored.app)
  }

  private send(sub: Subscriber, type: string, app: Json): void {
    const info = this.tokens.get(sub.token)
    // Apps the token can't get are silently left out of the stream.
    if (!info || info.expired || !this.can(info, 'get', app.spec.project, app.metadata.name)) return
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
    for (const s of this.subscribers.filter(x => x.key === key)) this.send(s, 'MODIFIED', app)
  }

  private behavior(app: Json): Required<Behavior> {
    const b = this.behaviors.get(app.metadata.name)
    return {
      outcome: b?.outcome ?? 'healthy',
      reconcileMs: b?.reconcileMs ?? this.stepMs,
      operationMs: b?.operationMs ?? this.stepMs * 2,
      immediateReconcile: b?.immediateReconcile ?? false
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

  private resources(app: Json, sync: string, health: string, message?: string): Json[] {
    const ns = app.spec.destination?.namespace
    const name = app.metadata.name
    return [
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
    const revision = shaOf(app.spec.source?.targetRevision ?? 'HEAD')
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
    const inSync =
      stored.deployed &&
      stable(normalize(stored.deployed.source)) === stable(normalize(app.spec.source)) &&
      stored.deployed.revision === revision
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
    const revision = shaOf(app.spec.source?.targetRevision ?? 'HEAD')
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
    Object.assign(op, {
      phase: 'Succeeded',
      message: 'successfully synced (all tasks run)',
      finishedAt: now,
      syncResult: {revision, source, resources: this.syncResults(app, 'Synced')}
    })
    app.status.reconciledAt = now
    app.status.sync = {
      status: 'Synced',
      revision,
      comparedTo: {
        source: structuredClone(source),
        destination: structuredClone(app.spec.destination)
      }
    }
    app.status.health = {status: 'Progressing'}
    app.status.resources = this.resources(
      app,
      'Synced',
      'Progressing',
      `Waiting for rollout to finish: 0 of 2 updated replicas are available...`
    )
    this.bump(app.metadata.name, app)
    this.later(key, b.reconcileMs, () => {
      if (b.outcome === 'stuck') return
      const degraded = b.outcome === 'degraded'
      app.status.health = degraded
        ? {
            status: 'Degraded',
            message: `Deployment "${app.metadata.name}" exceeded its progress deadline`
          }
        : {status: 'Healthy'}
      app.status.resources = this.resources(
        app,
        'Synced',
        degraded ? 'Degraded' : 'Healthy',
        degraded ? `Deployment "${app.metadata.name}" exceeded its progress deadline` : undefined
      )
      app.status.reconciledAt = rfc3339()
      this.bump(app.metadata.name, app)
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
