import type {IncomingMessage} from 'node:http'
import {abortError, applicationProblem, ArgoApiError, type ArgoClient, sleep} from './client.js'
import type {Application} from './types.js'

export interface WatchOptions {
  client: ArgoClient
  name: string
  appNamespace?: string
  /** The hard deadline: aborting it ends the watch with its reason. */
  signal: AbortSignal
  /** GET after this long without a stream event, so a silent or buffered stream cannot hang the job. */
  pollMs: number
  /** Pause before reopening a dropped stream. */
  reconnectMs: number
  /** A stream that shows nothing (not even keepalives) for this long is reopened. */
  idleMs?: number
  info?: (message: string) => void
  /**
   * The newest resourceVersion already seen (e.g. from the write or sync
   * answer). The stream is opened from it, and any snapshot older than the
   * newest seen so far is dropped: the server's watch lists from an informer
   * cache that can lag behind the call we just made.
   */
  resourceVersion?: string
  /** Counters for tests and the debug log. */
  stats?: {streamConnects: number; events: number; polls: number; stale?: number}
}

/**
 * resourceVersion order, compared numerically as the server does (etcd
 * revisions); undefined when either value is not a number, so nothing is
 * dropped on a server that uses opaque versions.
 */
export function compareResourceVersions(a?: string, b?: string): number | undefined {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined
  const x = BigInt(a)
  const y = BigInt(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** Errors that no amount of waiting will fix. */
function isFatal(e: unknown): boolean {
  return (
    e instanceof ArgoApiError &&
    (e.kind === 'unauthenticated' || e.kind === 'permission-denied' || e.kind === 'not-found')
  )
}

/** Parses the gateway's stream: SSE `data: {...}` lines or newline-delimited JSON. */
export function parseStreamLine(
  line: string
): {app?: Application; type?: string; error?: ArgoApiError} | undefined {
  let text = line.trim()
  if (!text || text.startsWith(':') || text.startsWith('event:') || text.startsWith('id:'))
    return undefined
  if (text.startsWith('data:')) text = text.slice(5).trim()
  if (!text) return undefined
  let msg: {
    result?: {type?: string; application?: Application}
    error?: {grpc_code?: number; http_code?: number; message?: string}
  }
  try {
    msg = JSON.parse(text)
  } catch {
    return undefined
  }
  if (msg.error) {
    const code = msg.error.grpc_code
    const kind =
      code === 16
        ? 'unauthenticated'
        : code === 7
          ? 'permission-denied'
          : code === 5
            ? 'not-found'
            : 'unavailable'
    return {
      error: new ArgoApiError(
        kind,
        `the watch stream reported: ${msg.error.message ?? 'error'} (gRPC ${code ?? '?'})`,
        {
          code,
          status: msg.error.http_code,
          transient: kind === 'unavailable'
        }
      )
    }
  }
  // An event without a usable object (a proxy's mangling) is skipped; the poll still runs.
  if (msg.result?.application && !applicationProblem(msg.result.application))
    return {app: msg.result.application, type: msg.result.type}
  return undefined
}

/**
 * Feeds every snapshot of the app (initial GET, stream events, periodic GETs)
 * to `judge` until it returns a verdict. The stream is reopened when it
 * drops; polling covers proxies that buffer or cut it.
 */
export function watchUntil<T>(
  o: WatchOptions,
  judge: (app: Application) => T | undefined
): Promise<T> {
  const inner = new AbortController()
  const path = `/api/v1/applications/${encodeURIComponent(o.name)}`
  const query = o.appNamespace ? {appNamespace: o.appNamespace} : undefined
  const stats = o.stats ?? {streamConnects: 0, events: 0, polls: 0}
  let newest = o.resourceVersion
  const streamQuery = () => ({
    name: o.name,
    ...(o.appNamespace ? {appNamespace: o.appNamespace} : {}),
    ...(newest ? {resourceVersion: newest} : {})
  })

  return new Promise<T>((resolve, reject) => {
    let settled = false
    const finish = (fn: () => void) => {
      if (settled) return
      settled = true
      o.signal.removeEventListener('abort', onOuterAbort)
      inner.abort()
      fn()
    }
    const onOuterAbort = () =>
      finish(() => reject(abortError(o.signal, 'waiting for the application')))
    if (o.signal.aborted) return onOuterAbort()
    o.signal.addEventListener('abort', onOuterAbort, {once: true})

    const consider = (app: Application) => {
      if (settled) return
      const rv = app.metadata?.resourceVersion
      const order = compareResourceVersions(rv, newest)
      if (order !== undefined && order < 0) {
        // Older than what we already saw: a lagging cache, not news.
        stats.stale = (stats.stale ?? 0) + 1
        return
      }
      if (rv && (order !== undefined || !newest)) newest = rv
      let verdict: T | undefined
      try {
        verdict = judge(app)
      } catch (e) {
        return finish(() => reject(e))
      }
      if (verdict !== undefined) finish(() => resolve(verdict as T))
    }

    // When the stream delivered a snapshot this recently, a GET would only fetch it again.
    let lastEventAt = Number.NEGATIVE_INFINITY
    const poll = async () => {
      while (!settled) {
        const fresh = lastEventAt + o.pollMs - Date.now()
        if (fresh > 0) {
          try {
            await sleep(fresh, inner.signal)
          } catch {
            return
          }
          continue
        }
        try {
          stats.polls++
          consider(
            await o.client.requestApp('GET', path, {
              query,
              signal: inner.signal,
              doing: 'reading the application'
            })
          )
        } catch (e) {
          if (settled) return
          if (isFatal(e)) return finish(() => reject(e))
          o.info?.(`reading the app failed, will retry: ${(e as Error).message}`)
        }
        try {
          await sleep(o.pollMs, inner.signal)
        } catch {
          return
        }
      }
    }

    const readEvents = (res: IncomingMessage) =>
      new Promise<ArgoApiError | undefined>(done => {
        let buffer = ''
        let idle: NodeJS.Timeout | undefined
        const arm = () => {
          if (!o.idleMs) return
          clearTimeout(idle)
          idle = setTimeout(() => res.destroy(), o.idleMs)
        }
        const end = (err?: ArgoApiError) => {
          clearTimeout(idle)
          res.removeAllListeners('data')
          res.destroy()
          done(err)
        }
        arm()
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          arm()
          buffer += chunk
          let nl: number
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl)
            buffer = buffer.slice(nl + 1)
            const parsed = parseStreamLine(line)
            if (!parsed) continue
            if (parsed.error) return end(parsed.error)
            if (parsed.type === 'DELETED') {
              return end(
                new ArgoApiError(
                  'not-found',
                  `application ${o.name} was deleted while waiting; check who deletes it`
                )
              )
            }
            if (parsed.app) {
              stats.events++
              lastEventAt = Date.now()
              consider(parsed.app)
              if (settled) return end()
            }
          }
        })
        res.on('end', () => end())
        res.on('close', () => end())
        res.on('error', () => end())
      })

    const stream = async () => {
      while (!settled) {
        try {
          const res = await o.client.stream(
            '/api/v1/stream/applications',
            streamQuery(),
            inner.signal
          )
          stats.streamConnects++
          const err = await readEvents(res)
          if (settled) return
          if (err && isFatal(err)) return finish(() => reject(err))
          o.info?.(`event stream ${err ? `failed (${err.message})` : 'closed'}; reconnecting`)
        } catch (e) {
          if (settled) return
          if (isFatal(e)) return finish(() => reject(e))
          if (e instanceof ArgoApiError && e.kind === 'wrong-endpoint') {
            // A proxy that doesn't route the stream: polling alone still works.
            o.info?.('the event stream is not available here; polling instead')
            return
          }
          o.info?.(`event stream unavailable (${(e as Error).message}); reconnecting`)
        }
        try {
          await sleep(o.reconnectMs, inner.signal)
        } catch {
          return
        }
      }
    }

    void poll()
    void stream()
  })
}
