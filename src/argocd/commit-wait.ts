import {UsageError} from '../core/errors.js'
import {mapLimit} from '../core/map-limit.js'
import type {CommitAncestry} from './ancestry.js'
import {appUrl} from './application.js'
import {
  ArgoApiError,
  withArgoClient,
  type ArgoClient,
  type ArgoConnectionOptions
} from './client.js'
import {
  listCandidateApps,
  matchApps,
  type AppMatch,
  type ChangeTarget,
  type Considered
} from './discover.js'
import type {ResourceLine} from './health.js'
import type {Application} from './types.js'
import {waitForApp, type WaitOutcome} from './wait.js'

/**
 * Closing the loop of a pull-based deploy: after a commit lands in the config
 * repo, find the Argo CD apps that deploy it and wait until each runs that
 * commit (or a later one on the branch), Synced and Healthy.
 */

export interface ArgoConnection extends ArgoConnectionOptions {
  /** Read an app again after this long without a stream event. */
  pollMs: number
}

export interface CommitWaitSettings {
  connection: ArgoConnection
  target: ChangeTarget
  /** --app: wait for these apps instead of discovering them. */
  apps: string[]
  /** --selector: narrows the listing (label selector, e.g. team=shop). */
  selector?: string
  timeoutMs: number
  acceptHealth: string[]
  degradedGraceMs: number
}

export interface AppReport {
  name: string
  namespace?: string
  project: string
  url: string
  /** Why this app was chosen. */
  matchedBy: string
  result: 'healthy' | 'failed' | 'timeout'
  /** The revision it ran at the end. */
  revision?: string
  sync: string
  health: string
  durationMs: number
  /** Failure or timeout: why, and the resources not Synced/Healthy. */
  reason?: string
  resources: ResourceLine[]
}

export interface CommitWaitResult {
  commit: string
  apps: AppReport[]
  /** Apps looked at and left out, with why. */
  considered: Considered[]
  timeoutSeconds: number
}

export interface WaitLog {
  info(message: string): void
  debug(message: string): void
}

/** Apps watched at once; each holds one watch stream. */
const PARALLEL_WAITS = 16

export async function waitForCommit(
  s: CommitWaitSettings,
  ancestry: CommitAncestry,
  log: WaitLog
): Promise<CommitWaitResult> {
  return withArgoClient(
    s.connection,
    s.timeoutMs,
    m => log.info(m),
    async (client, deadline, timeoutSeconds) => {
      const {matched, considered} = await findApps(client, s, deadline)
      log.info(
        `waiting for ${matched.map(m => m.app.metadata.name).join(', ')} to run ${s.target.commit.slice(0, 12)}`
      )
      const apps = await mapLimit(matched, PARALLEL_WAITS, m =>
        waitOne(client, s, m, ancestry, deadline, log)
      )
      return {commit: s.target.commit, apps, considered, timeoutSeconds}
    }
  )
}

async function findApps(
  client: ArgoClient,
  s: CommitWaitSettings,
  signal: AbortSignal
): Promise<{matched: AppMatch[]; considered: Considered[]}> {
  if (s.apps.length > 0) {
    const matched: AppMatch[] = []
    for (const name of s.apps) {
      const app = await client.requestApp(
        'GET',
        `/api/v1/applications/${encodeURIComponent(name)}`,
        {
          signal,
          doing: `reading application ${name}`
        }
      )
      const own = matchApps([app], s.target)
      matched.push(
        own.matched[0] ?? {
          app,
          reason: `named with --argocd-app (${own.considered[0]?.reason ?? 'no matching source'})`
        }
      )
    }
    return {matched, considered: []}
  }
  const {apps, filtered} = await listCandidateApps(client, {
    repo: s.target.repo,
    ...(s.selector ? {selector: s.selector} : {}),
    signal
  })
  const found = matchApps(apps, s.target)
  if (found.matched.length === 0) throw noAppError(s, found.considered, apps.length, filtered)
  return found
}

function noAppError(
  s: CommitWaitSettings,
  considered: Considered[],
  listed: number,
  filtered: boolean
): UsageError {
  const where = `${s.target.repo}${s.target.branch ? ` branch ${s.target.branch}` : ''}`
  const scope = s.selector ? ` with labels ${s.selector}` : ''
  const head =
    listed === 0
      ? `no Argo CD application${scope} is visible to the token at all`
      : `no Argo CD application deploys the change to ${where} (${s.target.paths.slice(0, 5).join(', ')}${s.target.paths.length > 5 ? ', ...' : ''})`
  const shown = considered
    .slice(0, 20)
    .map(c => `${c.namespace ? `${c.namespace}/` : ''}${c.name}: ${c.reason}`)
  const more = considered.length > 20 ? [`... and ${considered.length - 20} more`] : []
  const looked = shown.length
    ? `; looked at ${listed}${filtered ? '' : ' (every app the token may read)'}:\n  ${[...shown, ...more].join('\n  ')}\n`
    : '; '
  const fix =
    listed === 0
      ? `grant the account behind ARGOCD_AUTH_TOKEN 'applications, get' on the apps, or check --argocd-server`
      : "name the apps with --argocd-app, or check --repo/--branch/--path against the apps' source"
  return new UsageError(`${head}${looked}${looked.endsWith('\n') ? '' : ''}${fix}`)
}

async function waitOne(
  client: ArgoClient,
  s: CommitWaitSettings,
  m: AppMatch,
  ancestry: CommitAncestry,
  signal: AbortSignal,
  log: WaitLog
): Promise<AppReport> {
  const started = Date.now()
  const name = m.app.metadata.name
  const appNamespace = m.app.metadata.namespace
  const op = m.app.status?.operationState
  const prefix = (message: string) => log.info(`${name}: ${message}`)
  let result: {outcome: WaitOutcome; app?: Application}
  try {
    result = await waitForApp(client, {
      name,
      ...(appNamespace ? {appNamespace} : {}),
      expect: {
        acceptRevision: r => ancestry.accepts(r),
        ...(m.sourceIndex !== undefined ? {sourceIndex: m.sourceIndex} : {}),
        ...(s.acceptHealth.length ? {acceptHealth: s.acceptHealth} : {}),
        baseline: {
          ...(op?.startedAt ? {operationStartedAt: op.startedAt} : {}),
          ...(op?.finishedAt ? {operationFinishedAt: op.finishedAt} : {}),
          ...(m.app.status?.reconciledAt ? {reconciledAt: m.app.status.reconciledAt} : {})
        }
      },
      signal,
      pollMs: s.connection.pollMs,
      degradedGraceMs: s.degradedGraceMs,
      refresh: true,
      ...(m.app.metadata.resourceVersion ? {since: m.app.metadata.resourceVersion} : {}),
      info: prefix
    })
  } catch (e) {
    // A fatal error on one app (its token lost `get`, the app was deleted) fails that app only.
    if (!(e instanceof ArgoApiError)) throw e
    result = {outcome: {kind: 'failed', reason: e.message, resources: []}}
  }
  const app = result.app ?? m.app
  const status = app.status ?? {}
  const outcome = result.outcome
  const revision =
    m.sourceIndex !== undefined
      ? (status.sync?.revisions?.[m.sourceIndex] ?? status.sync?.revision)
      : status.sync?.revision
  return {
    name,
    ...(appNamespace ? {namespace: appNamespace} : {}),
    project: app.spec.project,
    url: appUrl(s.connection.server, app),
    matchedBy: m.reason,
    result: outcome.kind === 'done' || outcome.kind === 'skipped' ? 'healthy' : outcome.kind,
    ...(revision ? {revision} : {}),
    sync: status.sync?.status ?? 'Unknown',
    health: status.health?.status ?? 'Unknown',
    durationMs: Date.now() - started,
    ...(outcome.kind === 'failed' || outcome.kind === 'timeout' ? {reason: outcome.reason} : {}),
    resources:
      outcome.kind === 'failed'
        ? outcome.resources
        : outcome.kind === 'timeout'
          ? (outcome.progress?.pending ?? [])
          : []
  }
}

/** Every app ran the commit, Synced and Healthy. */
export function allHealthy(r: CommitWaitResult): boolean {
  return r.apps.length > 0 && r.apps.every(a => a.result === 'healthy')
}
