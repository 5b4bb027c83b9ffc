import * as http from 'node:http'
import * as https from 'node:https'
import {OperationError} from '../core/errors.js'
import type {Application} from './types.js'

/**
 * How a failed Argo CD call is handled. Branching is on the gRPC `code` in
 * the error body because the gateway maps several distinct failures onto one
 * HTTP status (400 = invalid spec, spec differs, operation in progress...).
 */
export type ArgoErrorKind =
  | 'unauthenticated' // 16
  | 'permission-denied' // 7 (also a missing app when no project is given)
  | 'not-found' // 5
  | 'invalid' // 3
  | 'operation-in-progress' // 9, "another operation is already in progress"
  | 'failed-precondition' // 9, anything else
  | 'conflict' // 6, 10
  | 'unavailable' // 5xx, 14, 4, resets: retried before this surfaces
  | 'refused' // 2 (500) with a message that names a cause no retry heals
  | 'render-failed' // 3, InvalidSpecError "Unable to generate manifests" at write time (validate=true)
  | 'sync-window' // 7, "blocked by sync window"
  | 'bad-answer' // 2xx whose body is not the object the call returns
  | 'wrong-endpoint' // plain-text 404 / HTML: --server is not the API root
  | 'unsupported-media-type' // 415
  | 'timeout' // our own deadline
  | 'unexpected'

export class ArgoApiError extends OperationError {
  constructor(
    readonly kind: ArgoErrorKind,
    message: string,
    readonly detail: {
      status?: number
      code?: number
      serverMessage?: string
      transient?: boolean
      /** A write whose request went out but whose answer never came: it may have been applied. */
      outcomeUnknown?: boolean
    } = {}
  ) {
    super(message)
    this.name = 'ArgoApiError'
  }
}

export interface ArgoClientOptions {
  /** Base URL including any --rootpath, e.g. https://cd.example.com/argocd */
  server: string
  token: string
  insecure?: boolean
  /** PEM text of extra CA certificates. */
  ca?: string
  /** Attempts after the first for transient failures. */
  retries?: number
  /** First backoff delay; doubles per attempt, with jitter. */
  retryBaseMs?: number
  /**
   * Per-request idle limit; the caller's signal bounds the whole run. The
   * default is above the server's own 60 s limit for rendering manifests,
   * which a validating write (validate=true) waits for.
   */
  requestTimeoutMs?: number
  /** Told about each retry, for the log. */
  onRetry?: (message: string) => void
  /** The flag that named the server, for error messages (argo-upsert: server; wait: argocd-server). */
  serverFlag?: string
}

export interface RequestOptions {
  query?: Record<string, string | boolean | undefined>
  body?: unknown
  signal?: AbortSignal
  /** What the call is doing, for error messages ("creating application web"). */
  doing?: string
}

interface RawResponse {
  status: number
  contentType: string
  text: string
}

const GRPC_NAMES: Record<number, string> = {
  1: 'Canceled',
  2: 'Unknown',
  3: 'InvalidArgument',
  4: 'DeadlineExceeded',
  5: 'NotFound',
  6: 'AlreadyExists',
  7: 'PermissionDenied',
  9: 'FailedPrecondition',
  10: 'Aborted',
  13: 'Internal',
  14: 'Unavailable',
  16: 'Unauthenticated'
}

/** The request never reached the server: repeating even a write is safe. */
const NOT_SENT_NET = new Set([
  'ECONNREFUSED',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH'
])

/** Our own per-request limit (req.setTimeout), told apart from the OS's ETIMEDOUT. */
const REQUEST_TIMEOUT = 'GITOPS_REQUEST_TIMEOUT'

/** The default per-request limit: above the server's 60 s repo-server (render) timeout. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 90_000

/**
 * gRPC 2 (Unknown, HTTP 500) is how the server reports its plain Go errors.
 * These messages name a cause that stays until someone fixes a setting;
 * retrying them only hides it.
 */
const DETERMINISTIC_UNKNOWN: [RegExp, string][] = [
  [
    /namespace '[^']*' is not permitted|NamespaceNotPermitted/i,
    "the app's namespace is not enabled for Applications: add it to application.namespaces in argocd-cmd-params-cm (then restart argocd-server), and to the project's spec.sourceNamespaces; or drop --app-namespace"
  ],
  [
    /error getting k8s server version|error getting server version|unable to (connect|reach)[^;]*cluster|the server has asked for the client to provide credentials/i,
    'Argo CD cannot reach the destination cluster while validating the app: check the cluster (argocd cluster get <server>) and its credentials; --validate=false writes without this check'
  ],
  [
    /multiple application sources defined/i,
    'an app source can use one tool: give a plugin, kustomize or helm settings, not several'
  ],
  [
    /InvalidSpecError|Unable to generate manifests/i,
    'Argo CD could not render the manifests (a manifest or plugin problem, not the flags): see the message; --validate=false writes without rendering'
  ],
  [
    /is not permitted in project|do not match any of the allowed destinations/i,
    "the project does not allow this --repo or destination: add it to the project's sourceRepos/destinations (argocd proj get <project>)"
  ],
  [
    /failed to apply patch|testing path|test operation/i,
    'the patch does not apply to the live app; see the message'
  ]
]

/** gRPC 2 messages that describe a passing condition (a restart, a dropped connection). */
const TRANSIENT_UNKNOWN =
  /connection refused|connection reset|i\/o timeout|context deadline exceeded|transport is closing|EOF|Unavailable|too many conflicts|the object has been modified/i

const TRANSIENT_NET = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET'
])

/** A delay that an abort cuts short (rejecting with the signal's reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(t)
      reject(signal!.reason)
    }
    signal?.addEventListener('abort', onAbort, {once: true})
  })
}

/** True when the token has the three dot-separated parts the server requires of a JWT. */
export function looksLikeJwt(token: string): boolean {
  return token.split('.').length === 3 && token.split('.').every(p => p.length > 0)
}

export class ArgoClient {
  readonly server: string
  private readonly agent: http.Agent
  private readonly retries: number
  private readonly retryBaseMs: number
  private readonly requestTimeoutMs: number

  constructor(private readonly options: ArgoClientOptions) {
    this.server = options.server.replace(/\/+$/, '')
    const isHttps = this.server.startsWith('https:')
    this.agent = isHttps
      ? new https.Agent({
          rejectUnauthorized: !options.insecure,
          ...(options.ca ? {ca: options.ca} : {})
        })
      : new http.Agent()
    this.retries = options.retries ?? 4
    this.retryBaseMs = options.retryBaseMs ?? 500
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  }

  /** The flag name the user gave the server with. */
  get serverFlag(): string {
    return this.options.serverFlag ?? 'server'
  }

  close(): void {
    this.agent.destroy()
  }

  url(path: string, query?: RequestOptions['query']): URL {
    const url = new URL(this.server + path)
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v))
    }
    return url
  }

  /**
   * The one way this program talks to Argo CD: auth header, exact content
   * type, retry with backoff for transient failures only, and errors that
   * name the fix.
   */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = this.url(path, opts.query)
    const write = method !== 'GET'
    for (let attempt = 0; ; attempt++) {
      let error: ArgoApiError
      try {
        const res = await this.send(method, url, opts.body, opts.signal)
        if (res.status >= 200 && res.status < 300) return this.parseOk<T>(res, method, url)
        error = this.classify(res, method, url, opts.doing)
        if (write && error.detail.transient && !reachedNothing(res)) {
          // A gateway timeout or a 5xx from a proxy says nothing about whether
          // the server applied the write: the caller must re-read, not repeat.
          throw unknownOutcome(error)
        }
      } catch (e) {
        if (opts.signal?.aborted) throw abortError(opts.signal, opts.doing)
        if (e instanceof ArgoApiError) throw e
        error = this.networkError(e, method, url, opts.doing)
        const code = (e as NodeJS.ErrnoException).code ?? ''
        if (write && error.detail.transient && !NOT_SENT_NET.has(code)) throw unknownOutcome(error)
      }
      if (!error.detail.transient || attempt >= this.retries) throw error
      const delay = Math.round(this.retryBaseMs * 2 ** attempt * (0.75 + Math.random() * 0.5))
      this.options.onRetry?.(
        `${error.message.split(';')[0]}; retrying in ${delay} ms (${attempt + 1}/${this.retries})`
      )
      try {
        await sleep(delay, opts.signal)
      } catch {
        throw abortError(opts.signal!, opts.doing)
      }
    }
  }

  /**
   * A call that answers an Application. A 2xx body that is not one (`null`,
   * `[]`, `{metadata: null}`: a proxy or a mock in the way) fails here with
   * the cause, not later with a TypeError.
   */
  async requestApp(method: string, path: string, opts: RequestOptions = {}): Promise<Application> {
    const body = await this.request<unknown>(method, path, opts)
    const problem = applicationProblem(body)
    if (problem) {
      throw new ArgoApiError(
        'bad-answer',
        `${opts.doing ?? `${method} ${path}`} failed: Argo CD answered 2xx without an Application (${problem}); ` +
          `check --${this.serverFlag}: it must be the Argo CD API itself, not a proxy or mock that rewrites answers`
      )
    }
    return body as Application
  }

  /**
   * Opens a long-lived GET (the watch stream). Resolves with the response once
   * headers arrive; failures are classified like any other call but not
   * retried here: the watcher decides when to reconnect.
   */
  stream(
    path: string,
    query: RequestOptions['query'],
    signal: AbortSignal
  ): Promise<http.IncomingMessage> {
    const url = this.url(path, query)
    return new Promise((resolve, reject) => {
      const req = this.transport(url).request(url, {
        method: 'GET',
        agent: this.agent,
        signal,
        headers: {
          Authorization: `Bearer ${this.options.token}`,
          // SSE gets keepalives and skips the gateway's gzip.
          Accept: 'text/event-stream',
          'Accept-Encoding': 'identity'
        }
      })
      req.on('response', res => {
        if (res.statusCode && res.statusCode >= 200 && res.statusCode < 300) return resolve(res)
        const chunks: Buffer[] = []
        res.on('data', c => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          reject(
            this.classify(
              {
                status: res.statusCode ?? 0,
                contentType: String(res.headers['content-type'] ?? ''),
                text: Buffer.concat(chunks).toString('utf8')
              },
              'GET',
              url,
              'watching the application'
            )
          )
        })
      })
      req.on('error', e =>
        reject(signal.aborted ? abortError(signal) : this.networkError(e, 'GET', url))
      )
      req.end()
    })
  }

  private transport(url: URL): typeof http | typeof https {
    return url.protocol === 'https:' ? https : http
  }

  private send(
    method: string,
    url: URL,
    body: unknown,
    signal?: AbortSignal
  ): Promise<RawResponse> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.options.token}`,
      // Paths outside the API fall through to the UI, which answers HTML.
      Accept: 'application/json'
    }
    let payload: Buffer | undefined
    if (method !== 'GET') {
      // The server enforces this exact value on every non-GET call, body or
      // not; "application/json; charset=utf-8" is answered with 415.
      headers['Content-Type'] = 'application/json'
      payload = Buffer.from(body === undefined ? '' : JSON.stringify(body))
      headers['Content-Length'] = String(payload.length)
    }
    return new Promise((resolve, reject) => {
      const req = this.transport(url).request(url, {method, agent: this.agent, headers, signal})
      req.setTimeout(this.requestTimeoutMs, () => {
        const e = new Error(
          `no answer within ${seconds(this.requestTimeoutMs)} (--request-timeout)`
        ) as NodeJS.ErrnoException
        e.code = REQUEST_TIMEOUT
        req.destroy(e)
      })
      req.on('response', res => {
        const chunks: Buffer[] = []
        res.on('data', c => chunks.push(c))
        res.on('error', reject)
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8')
          })
        )
      })
      req.on('error', reject)
      req.end(payload)
    })
  }

  private parseOk<T>(res: RawResponse, method: string, url: URL): T {
    try {
      return (res.text ? JSON.parse(res.text) : {}) as T
    } catch {
      const html = /<html|<!doctype/i.test(res.text.slice(0, 200))
      throw new ArgoApiError(
        'wrong-endpoint',
        `${method} ${url.pathname} answered ${html ? 'an HTML page' : 'something that is not JSON'}, not the Argo CD API; ` +
          `check --${this.serverFlag}: it must be the Argo CD server URL including its --rootpath (e.g. https://cd.example.com/argocd)`,
        {status: res.status}
      )
    }
  }

  /** Maps an error response to a kind and a message that names the fix. */
  classify(res: RawResponse, method: string, url: URL, doing?: string): ArgoApiError {
    let code: number | undefined
    let serverMessage = res.text.trim().slice(0, 500)
    try {
      const body = JSON.parse(res.text) as {code?: number; message?: string; error?: string}
      if (typeof body.code === 'number') code = body.code
      serverMessage = String(body.message ?? body.error ?? serverMessage)
    } catch {
      // plain-text errors come from the router or a proxy, not from the API
    }
    const what = doing ?? `${method} ${url.pathname}`
    const grpc =
      code === undefined ? '' : ` (gRPC ${[code, GRPC_NAMES[code]].filter(Boolean).join(' ')})`
    const said = `Argo CD answered ${res.status}${grpc}: ${serverMessage || '(empty body)'}`
    const detail = {status: res.status, code, serverMessage}
    const make = (kind: ArgoErrorKind, fix: string, transient = false) =>
      new ArgoApiError(kind, `${what} failed: ${said}; ${fix}`, {...detail, transient})

    if (code === 16 || (code === undefined && res.status === 401)) {
      const expired = /expired/i.test(serverMessage)
      const jwtHint = looksLikeJwt(this.options.token)
        ? ''
        : ' (the value is not a JWT: the server ignores tokens without three dot-separated parts)'
      return make(
        'unauthenticated',
        `${expired ? 'the token has expired' : 'the token was not accepted'}${jwtHint}: set ARGOCD_AUTH_TOKEN to a valid token ` +
          `(argocd account generate-token --account <ci-account>, or a project role token)`
      )
    }
    if (code === 7 || (code === undefined && res.status === 403)) {
      if (/blocked by sync window/i.test(serverMessage)) {
        // Not RBAC: the project's sync windows forbid syncing right now.
        return make(
          'sync-window',
          "a sync window of the app's project is closed (argocd proj windows list <project>): run again when it opens, or have the window allow manual syncs (manualSync: true)"
        )
      }
      const perm = /permission denied: ([^,]+, [^,]+, [^,]+)/.exec(serverMessage)?.[1]
      return make(
        'permission-denied',
        perm
          ? `grant the account behind ARGOCD_AUTH_TOKEN '${perm}' (argocd-rbac-cm policy or a project role); ` +
              `moving an app to another project also needs 'update' on its current project`
          : `check that the app exists and that the token may act on it (argocd-rbac-cm policy or a project role)`
      )
    }
    if (code === 5 || (code === undefined && res.status === 404 && /json/.test(res.contentType))) {
      return make('not-found', 'check --app, --app-namespace and --project')
    }
    if (res.status === 404) {
      return make(
        'wrong-endpoint',
        `check --${this.serverFlag}: it must be the Argo CD server URL including its --rootpath (e.g. https://cd.example.com/argocd)`
      )
    }
    if (code === 3) {
      const render = /InvalidSpecError: Unable to generate manifests in [^:]*: ([\s\S]*)$/i.exec(
        serverMessage
      )
      if (render) {
        // validate=true renders the manifests (plugins included) before writing.
        return make(
          'render-failed',
          `Argo CD could not render the manifests while validating the write; this is a manifest or plugin problem, not the flags. ` +
            `The renderer said: "${render[1].trim()}". Fix the manifests or the plugin setup (a missing Vault path or AVP_SECRET, ` +
            `a wrong --plugin name or -<version> suffix, a discover rule that does not match --path), or pass --validate=false to write without rendering`
        )
      }
      if (/not allowed in project|project does not exist/i.test(serverMessage)) {
        return make(
          'invalid',
          `check --project: the project must exist and allow this --repo and destination (argocd proj get <project>); ` +
            `an app outside the Argo CD namespace (--app-namespace) also needs that namespace in the project's spec.sourceNamespaces`
        )
      }
      if (
        /do not match any of the allowed destinations|is not permitted in project/i.test(
          serverMessage
        )
      ) {
        return make(
          'invalid',
          "the project does not allow this repo or destination: add it to the project's sourceRepos or destinations (argocd proj add-source / add-destination), or pick another --project"
        )
      }
      if (/destination/i.test(serverMessage)) {
        return make(
          'invalid',
          'check --dest-server/--dest-name: the cluster must be registered in Argo CD (argocd cluster list)'
        )
      }
      return make('invalid', 'fix the application spec flags named in the message')
    }
    if (code === 9) {
      if (/another operation is already in progress/i.test(serverMessage)) {
        return make(
          'operation-in-progress',
          'wait for the running operation, or terminate it (argocd app terminate-op)'
        )
      }
      return make(
        'failed-precondition',
        'the app is not in a state that allows this call; see the message'
      )
    }
    if (code === 6 || code === 10 || res.status === 409) {
      return make(
        'conflict',
        'the app changed concurrently; run again',
        code === 10 || res.status === 409
      )
    }
    if (res.status === 415) {
      return make(
        'unsupported-media-type',
        'a proxy in front of Argo CD changed the Content-Type header; it must pass "application/json" through unchanged'
      )
    }
    if (code === 2) {
      const known = DETERMINISTIC_UNKNOWN.find(([re]) => re.test(serverMessage))
      if (known) return make('refused', known[1])
      if (!TRANSIENT_UNKNOWN.test(serverMessage)) {
        // The server is up and said why; an unknown plain error is not retried blindly.
        return make('refused', 'the server refused the call; see its message')
      }
    }
    if (
      res.status >= 500 ||
      res.status === 429 ||
      res.status === 408 ||
      code === 14 ||
      code === 4
    ) {
      return make(
        'unavailable',
        'Argo CD or a proxy in front of it is failing; try again later',
        true
      )
    }
    return make('unexpected', 'see the message')
  }

  private networkError(e: unknown, method: string, url: URL, doing?: string): ArgoApiError {
    const err = e as NodeJS.ErrnoException
    const code = err.code ?? ''
    const what = doing ?? `${method} ${url.pathname}`
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
      return new ArgoApiError(
        'unavailable',
        `${what} failed: TLS error ${code} talking to ${url.host}: ${err.message}; ` +
          `pass --ca-file <pem> with the CA that signed the server certificate (or --insecure for a test server)`
      )
    }
    if (code === REQUEST_TIMEOUT) {
      return new ArgoApiError(
        'unavailable',
        `${what} failed: ${err.message}; raise --request-timeout if Argo CD is slow (a validating write renders the manifests first, up to the server's 60 s limit)`,
        {transient: true}
      )
    }
    const transient = TRANSIENT_NET.has(code) || /socket hang up/i.test(err.message)
    return new ArgoApiError(
      'unavailable',
      `${what} failed: cannot reach Argo CD at ${url.origin} (${code || err.message}); check --${this.serverFlag} and that the server is up`,
      {transient}
    )
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms} ms`
}

/** 429, and 503/14 from the gateway or a proxy that could not reach the upstream at all. */
function reachedNothing(res: RawResponse): boolean {
  if (res.status === 429) return true
  return (
    res.status === 503 && /"code":\s*14|upstream connect error|no healthy upstream/i.test(res.text)
  )
}

function unknownOutcome(e: ArgoApiError): ArgoApiError {
  return new ArgoApiError(e.kind, e.message, {...e.detail, transient: false, outcomeUnknown: true})
}

/** Why a 2xx body is not an Application, or undefined when it is one. */
export function applicationProblem(body: unknown): string | undefined {
  const show = (v: unknown) => {
    const s = JSON.stringify(v) ?? String(v)
    return s.length > 60 ? `${s.slice(0, 57)}...` : s
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return `got ${show(body)}`
  const b = body as {metadata?: unknown; spec?: unknown}
  if (!b.metadata || typeof b.metadata !== 'object' || Array.isArray(b.metadata))
    return `metadata is ${show(b.metadata)}`
  if (typeof (b.metadata as {name?: unknown}).name !== 'string') return 'metadata.name is missing'
  if (!b.spec || typeof b.spec !== 'object' || Array.isArray(b.spec))
    return `spec is ${show(b.spec)}`
  return undefined
}

export function abortError(signal: AbortSignal, doing?: string): ArgoApiError {
  const reason = signal.reason
  if (reason instanceof ArgoApiError) return reason
  return new ArgoApiError(
    'timeout',
    `${doing ? `${doing}: ` : ''}${reason instanceof Error ? reason.message : 'aborted'}`
  )
}

/** What a run needs to reach Argo CD (server, token, TLS, retry pacing). */
export interface ArgoConnectionOptions {
  server: string
  /** The flag that named the server (default: server). */
  serverFlag?: string
  token: string
  insecure: boolean
  ca?: string
  retryBaseMs: number
  requestTimeoutMs?: number
}

/**
 * Runs `fn` with a client and the run's hard deadline (--timeout): the signal
 * aborts with a timeout error naming the flag; the client is closed after.
 */
export async function withArgoClient<T>(
  c: ArgoConnectionOptions,
  timeoutMs: number,
  onRetry: (message: string) => void,
  fn: (client: ArgoClient, deadline: AbortSignal, timeoutSeconds: number) => Promise<T>
): Promise<T> {
  const client = new ArgoClient({
    server: c.server,
    token: c.token,
    insecure: c.insecure,
    ca: c.ca,
    retryBaseMs: c.retryBaseMs,
    ...(c.requestTimeoutMs ? {requestTimeoutMs: c.requestTimeoutMs} : {}),
    ...(c.serverFlag ? {serverFlag: c.serverFlag} : {}),
    onRetry
  })
  const timeoutSeconds = Math.round(timeoutMs / 1000)
  const limit = deadline(
    timeoutMs,
    `timed out after ${timeoutSeconds}s (--timeout); raise --timeout if the rollout needs longer`
  )
  try {
    return await fn(client, limit.signal, timeoutSeconds)
  } finally {
    limit.clear()
    client.close()
  }
}

/** A hard limit: the signal aborts with a timeout error carrying `message` after `ms`. */
export function deadline(ms: number, message: string): {signal: AbortSignal; clear: () => void} {
  const c = new AbortController()
  const timer = setTimeout(() => c.abort(new ArgoApiError('timeout', message)), ms)
  // A limit only ends work that is still pending; it must not hold the process open by itself.
  timer.unref?.()
  return {signal: c.signal, clear: () => clearTimeout(timer)}
}
