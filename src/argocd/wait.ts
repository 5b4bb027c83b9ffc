import {abortError, ArgoApiError, deadline, type ArgoClient} from './client.js'
import {
  evaluate,
  type Evaluation,
  type Expectation,
  formatProgress,
  type Progress,
  type ResourceLine
} from './health.js'
import type {Application} from './types.js'
import {compareResourceVersions, watchUntil, type WatchOptions} from './watch.js'

/**
 * Waiting for an Application to reach an expected state, as the real server
 * allows it to be judged: snapshots older than what we already saw are
 * dropped (the watch serves from a lagging informer cache), an operation is
 * judged only when it is ours, health only once the controller reconciled
 * after the sync, a transient Degraded gets a grace period, and a sync that
 * left resources needing pruning fails at once. Used by argo-upsert and by
 * any command that waits on apps (e.g. waiting for a pushed commit).
 */

export type WaitOutcome =
  | {kind: 'skipped'}
  | {kind: 'done'}
  | {
      kind: 'failed'
      reason: string
      resources: ResourceLine[]
      cause?: Extract<Evaluation, {kind: 'failed'}>['cause']
    }
  | {kind: 'timeout'; reason: string; progress?: Progress}

/** A Degraded health must last this long before it fails the wait (rollouts pass through it). */
export const DEFAULT_DEGRADED_GRACE_MS = 10_000

/** How long the refresh before a wait may take; the wait goes on without it after that. */
export const REFRESH_LIMIT_MS = 30_000

export interface WaitForAppOptions {
  name: string
  appNamespace?: string
  /** What counts as deployed: spec, revision, accepted health, baseline operation. */
  expect: Expectation
  /** The hard deadline of the caller; its reason ends the wait as a timeout. */
  signal: AbortSignal
  /** An extra limit for this wait alone. */
  timeoutMs?: number
  /** Read the app again after this long without a stream event. */
  pollMs: number
  /** How long a Degraded health may last before it fails; 0 fails at once. */
  degradedGraceMs?: number
  /**
   * Ask the server for a normal refresh first (`GET ?refresh=normal`), so a
   * branch or tag revision is resolved again and the wait does not judge
   * the previous commit. Bounded by REFRESH_LIMIT_MS; a failed refresh is
   * logged, not fatal.
   */
  refresh?: boolean
  /** The newest resourceVersion the caller saw (write or sync answer): older snapshots are dropped. */
  since?: string
  /** A snapshot to judge before anything is read (e.g. the write's answer). */
  initial?: Application
  info: (message: string) => void
  /** For tests: the clock of the grace period. */
  now?: () => number
  stats?: WatchOptions['stats']
}

export interface WaitResult {
  outcome: WaitOutcome
  /** The last snapshot judged, when there was one. */
  app?: Application
}

/** The newer of two resourceVersions (numeric order; the second wins when they can't be compared). */
export function newerResourceVersion(a?: string, b?: string): string | undefined {
  const order = compareResourceVersions(a, b)
  if (order === undefined) return b ?? a
  return order > 0 ? a : b
}

/** Waits until `expect` holds, fails, or the deadline passes. Never throws for a timeout. */
export async function waitForApp(client: ArgoClient, o: WaitForAppOptions): Promise<WaitResult> {
  const limit = o.timeoutMs
    ? deadline(o.timeoutMs, `timed out after ${o.timeoutMs / 1000}s waiting for ${o.name}`)
    : undefined
  try {
    return await waitWithin(client, o, limit ? anyOf([o.signal, limit.signal]) : o.signal)
  } finally {
    limit?.clear()
  }
}

async function waitWithin(
  client: ArgoClient,
  o: WaitForAppOptions,
  signal: AbortSignal
): Promise<WaitResult> {
  const now = o.now ?? Date.now
  const grace = o.degradedGraceMs ?? DEFAULT_DEGRADED_GRACE_MS
  let since = o.since
  let current = o.initial
  let last: Evaluation | undefined
  let lastLine = ''
  let degradedSince: number | undefined

  const judge = (app: Application): Evaluation | undefined => {
    current = app
    let v = evaluate(app, o.expect)
    if (v.kind === 'failed' && v.cause === 'degraded') {
      degradedSince ??= now()
      const left = degradedSince + grace - now()
      if (left > 0) {
        v = {
          kind: 'waiting',
          reason: `health Degraded, failing unless it recovers within ${Math.ceil(left / 1000)}s (--degraded-grace)`,
          progress: v.progress
        }
      }
    } else if (v.progress.health !== 'Degraded') {
      degradedSince = undefined
    }
    last = v
    if (v.kind === 'waiting') {
      // The reason is shown only when the progress line doesn't already say it.
      const why = /^(operation|sync|health) \S+$/.test(v.reason) ? '' : ` (${v.reason})`
      const line = `waiting: ${formatProgress(v.progress)}${why}`
      if (line !== lastLine) o.info(line)
      lastLine = line
      return undefined
    }
    return v
  }

  try {
    if (o.refresh) {
      const refreshed = await refreshApp(client, o.name, o.appNamespace, signal, o.info)
      if (refreshed) {
        since = newerResourceVersion(since, refreshed.metadata.resourceVersion)
        current = refreshed
      }
    }
    const first = current && judge(current)
    const verdict =
      first ??
      (await watchUntil(
        {
          client,
          name: o.name,
          appNamespace: o.appNamespace,
          signal,
          pollMs: o.pollMs,
          reconnectMs: Math.min(1000, o.pollMs),
          idleMs: Math.max(45_000, o.pollMs * 3),
          info: o.info,
          ...(since ? {resourceVersion: since} : {}),
          ...(o.stats ? {stats: o.stats} : {})
        },
        judge
      ))
    return {
      outcome:
        verdict.kind === 'failed'
          ? {
              kind: 'failed',
              reason: verdict.reason,
              resources: verdict.resources,
              ...(verdict.cause ? {cause: verdict.cause} : {})
            }
          : {kind: 'done'},
      ...(current ? {app: current} : {})
    }
  } catch (e) {
    if (!(e instanceof ArgoApiError && e.kind === 'timeout')) throw e
    const l = last as Evaluation | undefined
    return {
      outcome: {
        kind: 'timeout',
        reason: `${e.message}; last state: ${l && l.kind === 'waiting' ? l.reason : l ? l.kind : 'unknown'}`,
        ...(l ? {progress: l.progress} : {})
      },
      ...(current ? {app: current} : {})
    }
  }
}

/**
 * `GET ?refresh=normal`: the server marks the app for a refresh and answers
 * once the controller has compared it again, so a moved branch is seen.
 * Bounded, and never fatal: without it the wait still works, only later.
 */
export async function refreshApp(
  client: ArgoClient,
  name: string,
  appNamespace: string | undefined,
  signal: AbortSignal,
  info: (message: string) => void
): Promise<Application | undefined> {
  const refresh = deadline(REFRESH_LIMIT_MS, `no refresh within ${REFRESH_LIMIT_MS / 1000}s`)
  const limit = anyOf([signal, refresh.signal])
  try {
    return await client.requestApp('GET', `/api/v1/applications/${encodeURIComponent(name)}`, {
      query: {refresh: 'normal', ...(appNamespace ? {appNamespace} : {})},
      signal: limit,
      doing: `refreshing application ${name}`
    })
  } catch (e) {
    if (signal.aborted) throw abortError(signal, 'refreshing the application')
    info(`refresh of ${name} did not complete (${(e as Error).message}); waiting without it`)
    return undefined
  } finally {
    refresh.clear()
  }
}

/** AbortSignal.any, which Node 20.0-20.2 (within engines >=20) lacks. */
function anyOf(signals: AbortSignal[]): AbortSignal {
  const c = new AbortController()
  for (const s of signals) {
    if (s.aborted) {
      c.abort(s.reason)
      break
    }
    s.addEventListener('abort', () => c.abort(s.reason), {once: true})
  }
  return c.signal
}
