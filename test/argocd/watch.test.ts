import * as http from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import {ArgoApiError, ArgoClient} from '../../src/argocd/client.js'
import {parseStreamLine, watchUntil} from '../../src/argocd/watch.js'
import type {Application} from '../../src/argocd/types.js'

const app = (rv: string, health: string): Application => ({
  metadata: {name: 'web', resourceVersion: rv},
  spec: {project: 'p', destination: {}},
  status: {health: {status: health}}
})

describe('parseStreamLine', () => {
  it('reads SSE data lines and newline-delimited JSON alike; skips keepalives', () => {
    const event = JSON.stringify({result: {type: 'MODIFIED', application: app('1', 'Healthy')}})
    expect(parseStreamLine(`data: ${event}`)).toMatchObject({
      type: 'MODIFIED',
      app: {metadata: {name: 'web'}}
    })
    expect(parseStreamLine(event)).toMatchObject({type: 'MODIFIED'})
    expect(parseStreamLine(':')).toBeUndefined()
    expect(parseStreamLine('')).toBeUndefined()
    expect(parseStreamLine('data: {not json')).toBeUndefined()
  })

  it('turns mid-stream errors into classified errors', () => {
    const line = JSON.stringify({
      error: {
        grpc_code: 16,
        http_code: 401,
        message: 'invalid session: token is expired',
        http_status: 'Unauthorized'
      }
    })
    const parsed = parseStreamLine(`data: ${line}`)
    expect(parsed?.error).toBeInstanceOf(ArgoApiError)
    expect(parsed?.error?.kind).toBe('unauthenticated')
    expect(
      parseStreamLine(JSON.stringify({error: {grpc_code: 14, message: 'x'}}))?.error?.detail
        .transient
    ).toBe(true)
  })
})

describe('watchUntil against a scripted server', () => {
  let server: http.Server | undefined
  afterEach(async () => {
    server?.closeAllConnections()
    await new Promise(r => server?.close(r))
    server = undefined
  })

  async function serve(handler: http.RequestListener): Promise<ArgoClient> {
    server = http.createServer(handler)
    await new Promise<void>(r => server!.listen(0, '127.0.0.1', r))
    return new ArgoClient({
      server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      token: 'a.b.c',
      retryBaseMs: 5
    })
  }

  it('ends with a fatal error when the stream reports the token expired mid-stream', async () => {
    const client = await serve((req, res) => {
      if (req.url!.startsWith('/api/v1/stream/')) {
        res.writeHead(200, {'Content-Type': 'text/event-stream'})
        res.write(
          `data: ${JSON.stringify({result: {type: 'ADDED', application: app('1', 'Progressing')}})}\n\n`
        )
        res.write(': keepalive\n\n')
        res.write(
          `data: ${JSON.stringify({error: {grpc_code: 16, http_code: 401, message: 'invalid session: token is expired'}})}\n\n`
        )
        return
      }
      res.writeHead(200, {'Content-Type': 'application/json'})
      res.end(JSON.stringify(app('1', 'Progressing')))
    })
    const seen: string[] = []
    const promise = watchUntil(
      {client, name: 'web', signal: new AbortController().signal, pollMs: 60_000, reconnectMs: 10},
      a => {
        seen.push(a.status!.health!.status!)
        return undefined
      }
    )
    await expect(promise).rejects.toMatchObject({kind: 'unauthenticated'})
    expect(seen.length).toBeGreaterThanOrEqual(1)
    client.close()
  })

  it('polls only while the stream is silent: a live stream is not fetched again by GETs', async () => {
    let gets = 0
    let timer: NodeJS.Timeout | undefined
    const client = await serve((req, res) => {
      if (req.url!.startsWith('/api/v1/stream/')) {
        res.writeHead(200, {'Content-Type': 'text/event-stream'})
        let rv = 0
        timer = setInterval(() => {
          const health = ++rv < 20 ? 'Progressing' : 'Healthy'
          res.write(
            `data: ${JSON.stringify({result: {type: 'MODIFIED', application: app(String(rv), health)}})}\n\n`
          )
        }, 10)
        res.on('close', () => clearInterval(timer))
        return
      }
      gets++
      res.writeHead(200, {'Content-Type': 'application/json'})
      res.end(JSON.stringify(app('0', 'Progressing')))
    })
    const stats = {streamConnects: 0, events: 0, polls: 0}
    const verdict = await watchUntil(
      {
        client,
        name: 'web',
        signal: new AbortController().signal,
        pollMs: 50,
        reconnectMs: 10,
        stats
      },
      a => (a.status!.health!.status === 'Healthy' ? a.metadata.resourceVersion : undefined)
    )
    clearInterval(timer)
    expect(verdict).toBe('20')
    expect(stats.events).toBe(20)
    // Only the opening GET; ~200ms of a live stream at pollMs 50 would otherwise add about four.
    expect(stats.polls).toBe(1)
    expect(gets).toBe(1)
    client.close()
  })

  it('the outer signal ends the wait with its reason, aborting what is in flight', async () => {
    const client = await serve((req, res) => {
      // Headers only, then silence: a proxy that buffers the stream.
      if (req.url!.startsWith('/api/v1/stream/')) return void res.writeHead(200).flushHeaders()
      res.writeHead(200, {'Content-Type': 'application/json'})
      res.end(JSON.stringify(app('1', 'Progressing')))
    })
    const deadline = new AbortController()
    setTimeout(
      () => deadline.abort(new ArgoApiError('timeout', 'timed out after 0s (--timeout)')),
      100
    )
    const promise = watchUntil(
      {client, name: 'web', signal: deadline.signal, pollMs: 20, reconnectMs: 10},
      () => undefined
    )
    await expect(promise).rejects.toMatchObject({
      kind: 'timeout',
      message: 'timed out after 0s (--timeout)'
    })
    client.close()
  })
})
