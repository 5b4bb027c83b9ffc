/**
 * A real smart-HTTP git server for tests and benchmarks: `git http-backend`
 * (the CGI that ships with git) behind a small Node HTTP server on
 * 127.0.0.1, with Basic auth like GitHub/GitLab.
 *
 *   const server = await startGitHttpServer({
 *     root: dirHoldingBareRepos,
 *     credentials: [{user: 'x-access-token', password: TOKEN, access: 'write'},
 *                   {user: 'x-access-token', password: READONLY, access: 'read'}]
 *   })
 *   server.repoUrl('config.git')   // http://127.0.0.1:PORT/config.git
 *   server.requests                // what clients asked for (method, path, service, user, status)
 *   server.dieOnNextPush()         // the server dies mid-push: connections cut, port closed
 *   server.failNext(2)             // the next 2 requests get 502 Bad Gateway (a load balancer hiccup)
 *   server.failNext(1, {service: 'git-receive-pack', status: 503})  // only pushes
 *   await server.close()
 *
 * Behaviour mirrors the hosted forges where it matters to clients: 401 with
 * `WWW-Authenticate: Basic` when credentials are missing or wrong, 403 when a
 * read-only credential tries to push, 404 for unknown repositories. With
 * `credentials: []` (or omitted) no auth is required.
 */
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo, Socket} from 'node:net'
import type {ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join, normalize} from 'node:path'
import {spawnGit} from '../../src/git/exec.js'

export interface Credential {
  user: string
  password: string
  access: 'read' | 'write'
}

export interface GitHttpServerOptions {
  /** Directory holding the bare repositories, served at /<name>. */
  root: string
  credentials?: Credential[]
}

export interface RequestLogEntry {
  method: string
  path: string
  service?: string
  user?: string
  status: number
  /** The full request target; tests assert no secret ever travels in it. */
  url: string
  /** Request body bytes received and response body bytes sent (benchmarks count them). */
  bytesIn: number
  bytesOut: number
}

export interface GitHttpServer {
  /** http://127.0.0.1:PORT */
  url: string
  repoUrl(name: string): string
  requests: RequestLogEntry[]
  /** Arms the kill switch: the next push request kills the server mid-transfer. */
  dieOnNextPush(): void
  /**
   * The next push is applied, then its answer is lost and the request
   * arrives a second time, as when curl re-sends over a dropped keep-alive
   * connection: the client sees only the server's answer to the duplicate.
   */
  duplicateNextPush(): void
  /** The next push request is received but never answered (a stalled server). */
  holdNextPush(): void
  /**
   * The next `count` requests (only those for `service`, when given) are
   * answered `status` (default 502) before auth, as a forge's load balancer
   * does when its backends are unhealthy. `Infinity` keeps failing.
   */
  failNext(count: number, options?: {status?: number; service?: string}): void
  readonly dead: boolean
  close(): Promise<void>
}

export async function startGitHttpServer(options: GitHttpServerOptions): Promise<GitHttpServer> {
  const credentials = options.credentials ?? []
  const requests: RequestLogEntry[] = []
  const sockets = new Set<Socket>()
  const children = new Set<ChildProcess>()
  let killSwitch = false
  let duplicate = false
  let hold = false
  let failing: {count: number; status: number; service?: string} = {count: 0, status: 502}
  let dead = false

  const die = () => {
    dead = true
    server.close()
    for (const c of children) c.kill('SIGKILL')
    for (const s of sockets) s.destroy()
  }

  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://localhost')
    const service =
      u.searchParams.get('service') ?? /\/(git-(?:upload|receive)-pack)$/.exec(u.pathname)?.[1]
    const entry: RequestLogEntry = {
      method: req.method ?? 'GET',
      path: u.pathname,
      service,
      status: 0,
      url: req.url ?? '',
      bytesIn: 0,
      bytesOut: 0
    }
    req.on('data', (c: Buffer) => void (entry.bytesIn += c.length))
    requests.push(entry)
    const reply = (status: number, body: string, headers: Record<string, string> = {}) => {
      entry.status = status
      res.writeHead(status, {'Content-Type': 'text/plain', ...headers})
      res.end(body)
    }

    if (failing.count > 0 && (!failing.service || failing.service === service)) {
      failing.count--
      reply(failing.status, `${failing.status === 502 ? 'Bad Gateway' : 'Server Error'}\n`)
      return
    }
    let access: Credential['access'] = 'write'
    if (credentials.length > 0) {
      const cred = parseBasic(req.headers.authorization)
      const match =
        cred && credentials.find(c => c.user === cred.user && c.password === cred.password)
      if (!match) {
        reply(401, 'HTTP Basic: Access denied\n', {'WWW-Authenticate': 'Basic realm="git"'})
        return
      }
      entry.user = match.user
      access = match.access
    }
    const push = service === 'git-receive-pack'
    if (push && access !== 'write') {
      reply(403, 'Write access to repository not granted.\n')
      return
    }
    const repoName = u.pathname.split('/').filter(Boolean)[0] ?? ''
    const repoDir = normalize(join(options.root, repoName))
    if (!repoName || !repoDir.startsWith(normalize(options.root)) || !existsSync(repoDir)) {
      reply(404, 'Repository not found\n')
      return
    }
    if (push && req.method === 'POST' && killSwitch) {
      killSwitch = false
      // Let the client start sending its pack, then vanish without answering.
      req.once('data', () => die())
      return
    }
    const remoteUser = access === 'write' ? (entry.user ?? 'anonymous') : undefined
    if (push && req.method === 'POST' && hold) {
      hold = false
      req.resume()
      return
    }
    if (push && req.method === 'POST' && duplicate) {
      duplicate = false
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks)
        // Where the first answer goes: nowhere, as if the connection dropped before it arrived.
        const lost = {writeHead: () => lost, write: () => true, end: () => lost, on: () => lost}
        const first = runBackend(
          body,
          lost as unknown as ServerResponse,
          {...entry},
          u,
          remoteUser,
          req
        )
        first.on('close', () => {
          requests.push({...entry})
          runBackend(body, res, entry, u, remoteUser, req)
        })
      })
      return
    }
    runBackend(req, res, entry, u, remoteUser, req)
  })

  function runBackend(
    body: IncomingMessage | Buffer,
    res: ServerResponse,
    entry: RequestLogEntry,
    u: URL,
    remoteUser: string | undefined,
    req: IncomingMessage
  ): ChildProcess {
    const child = spawnGit(['http-backend'], {
      cwd: options.root,
      env: {
        GIT_PROJECT_ROOT: options.root,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method,
        PATH_INFO: decodeURIComponent(u.pathname),
        QUERY_STRING: u.search.replace(/^\?/, ''),
        CONTENT_TYPE: req.headers['content-type'],
        CONTENT_LENGTH: req.headers['content-length'],
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'],
        GIT_PROTOCOL: headerValue(req.headers['git-protocol']),
        REMOTE_USER: remoteUser,
        REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1'
      }
    })
    children.add(child)
    child.on('close', () => children.delete(child))
    if (Buffer.isBuffer(body)) child.stdin!.end(body)
    else body.pipe(child.stdin!)
    child.stdin!.on('error', () => undefined)
    child.stderr!.resume()
    let head = Buffer.alloc(0)
    let headersDone = false
    child.stdout!.on('data', (chunk: Buffer) => {
      if (headersDone) {
        entry.bytesOut += chunk.length
        res.write(chunk)
        return
      }
      head = Buffer.concat([head, chunk])
      const end = findHeaderEnd(head)
      if (!end) return
      headersDone = true
      const headers: Record<string, string> = {}
      let status = 200
      for (const line of head.subarray(0, end.at).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':')
        if (i < 0) continue
        const k = line.slice(0, i).trim()
        const v = line.slice(i + 1).trim()
        if (k.toLowerCase() === 'status') status = parseInt(v, 10)
        else headers[k] = v
      }
      entry.status = status
      res.writeHead(status, headers)
      entry.bytesOut += head.length - end.at - end.length
      res.write(head.subarray(end.at + end.length))
    })
    child.stdout!.on('end', () => {
      if (!headersDone) {
        entry.status = 502
        res.writeHead(502)
      }
      res.end()
    })
    res.on('close', () => {
      if (child.exitCode === null) child.kill('SIGKILL')
    })
    return child
  }

  server.on('connection', s => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    repoUrl: name => `${url}/${name}`,
    requests,
    dieOnNextPush: () => {
      killSwitch = true
    },
    duplicateNextPush: () => {
      duplicate = true
    },
    holdNextPush: () => {
      hold = true
    },
    failNext: (count, opts = {}) => {
      failing = {count, status: opts.status ?? 502, service: opts.service}
    },
    get dead() {
      return dead
    },
    close: async () => {
      if (!dead) die()
      await new Promise(r => setTimeout(r, 10))
    }
  }
}

function parseBasic(header: string | undefined): {user: string; password: string} | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '')
  if (!m) return undefined
  const decoded = Buffer.from(m[1], 'base64').toString('utf8')
  const i = decoded.indexOf(':')
  return i < 0 ? undefined : {user: decoded.slice(0, i), password: decoded.slice(i + 1)}
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v
}

function findHeaderEnd(buf: Buffer): {at: number; length: number} | undefined {
  const crlf = buf.indexOf('\r\n\r\n')
  const lf = buf.indexOf('\n\n')
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return {at: crlf, length: 4}
  if (lf >= 0) return {at: lf, length: 2}
  return undefined
}
