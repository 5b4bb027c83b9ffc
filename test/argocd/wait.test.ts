import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {ArgoClient} from '../../src/argocd/client.js'
import type {Expectation} from '../../src/argocd/health.js'
import type {ApplicationSource} from '../../src/argocd/types.js'
import {newerResourceVersion, waitForApp} from '../../src/argocd/wait.js'
import {compareResourceVersions} from '../../src/argocd/watch.js'
import {ArgoCdDouble, IN_CLUSTER} from '../doubles/argocd-double.js'
import {REPO, SHA1, startDouble} from './helpers.js'

let double: ArgoCdDouble
let client: ArgoClient
const source: ApplicationSource = {repoURL: REPO, path: 'overlays/dev', targetRevision: SHA1}
const destination = {server: IN_CLUSTER, namespace: 'shop-dev'}
const exp: Expectation = {source, destination, revision: SHA1}

beforeEach(async () => {
  let token: string
  ;({double, token} = await startDouble())
  client = new ArgoClient({server: double.url, token, retryBaseMs: 5})
  double.seed(
    {metadata: {name: 'web'}, spec: {project: 'shop', destination, source}},
    {deployed: true}
  )
})

afterEach(async () => {
  client.close()
  await double.close()
  expect(double.violations).toEqual([])
})

function degrade(): void {
  double.mutate('web', app => {
    app.status.health = {status: 'Degraded', message: 'Back-off pulling image'}
  })
}

describe('waitForApp', () => {
  it('done at once when the app already runs the expected spec, Healthy', async () => {
    const lines: string[] = []
    const r = await waitForApp(client, {
      name: 'web',
      expect: exp,
      signal: new AbortController().signal,
      pollMs: 40,
      info: m => lines.push(m)
    })
    expect(r.outcome).toEqual({kind: 'done'})
    expect(r.app?.status?.health?.status).toBe('Healthy')
  })

  it('a Degraded that recovers within the grace period is not a failure', async () => {
    degrade()
    const lines: string[] = []
    setTimeout(
      () =>
        double.mutate('web', app => {
          app.status.health = {status: 'Healthy'}
        }),
      150
    )
    const r = await waitForApp(client, {
      name: 'web',
      expect: exp,
      signal: new AbortController().signal,
      pollMs: 40,
      degradedGraceMs: 5000,
      info: m => lines.push(m)
    })
    expect(r.outcome).toEqual({kind: 'done'})
    expect(lines.join('\n')).toMatch(/health Degraded, failing unless it recovers within \d+s/)
  })

  it('a Degraded that outlasts the grace period fails, with the cause', async () => {
    degrade()
    let clock = 0
    const r = await waitForApp(client, {
      name: 'web',
      expect: exp,
      signal: new AbortController().signal,
      pollMs: 20,
      degradedGraceMs: 1000,
      // Each judgement is 400 ms later: the grace runs out on the third snapshot.
      now: () => (clock += 400),
      info: () => undefined
    })
    expect(r.outcome).toMatchObject({
      kind: 'failed',
      cause: 'degraded',
      reason: 'health Degraded: Back-off pulling image'
    })
  })

  it('timeoutMs ends the wait as a timeout with the last state, never by throwing', async () => {
    double.mutate('web', app => {
      app.status.health = {status: 'Progressing'}
    })
    const r = await waitForApp(client, {
      name: 'web',
      expect: exp,
      signal: new AbortController().signal,
      timeoutMs: 200,
      pollMs: 40,
      info: () => undefined
    })
    expect(r.outcome).toMatchObject({
      kind: 'timeout',
      reason: expect.stringMatching(
        /timed out after 0.2s waiting for web; last state: health Progressing/
      )
    })
  })

  it('refresh: asks for ?refresh=normal first', async () => {
    const r = await waitForApp(client, {
      name: 'web',
      expect: exp,
      signal: new AbortController().signal,
      pollMs: 40,
      refresh: true,
      info: () => undefined
    })
    expect(r.outcome.kind).toBe('done')
    expect(double.calls('GET', '/api/v1/applications/web')[0].query).toEqual({refresh: 'normal'})
  })
})

describe('resourceVersion order', () => {
  it('compares numerically, and not at all when a value is opaque', () => {
    expect(compareResourceVersions('99', '100')).toBe(-1)
    expect(compareResourceVersions('100', '100')).toBe(0)
    expect(compareResourceVersions('12345678901234567890', '2')).toBe(1)
    expect(compareResourceVersions('abc', '2')).toBeUndefined()
    expect(newerResourceVersion('99', '100')).toBe('100')
    expect(newerResourceVersion('101', '100')).toBe('101')
    expect(newerResourceVersion(undefined, '7')).toBe('7')
  })
})
