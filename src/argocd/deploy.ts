import {
  appUrl,
  changedFields,
  type AppSettings,
  type FieldChange,
  sameJson,
  upsertBody
} from './application.js'
import {ArgoApiError, ArgoClient} from './client.js'
import {
  evaluate,
  type Evaluation,
  type Expectation,
  formatProgress,
  type Progress,
  type ResourceLine
} from './health.js'
import {watchUntil} from './watch.js'
import type {Application} from './types.js'

export interface DeploySettings {
  server: string
  token: string
  insecure: boolean
  ca?: string
  app: AppSettings
  sync: boolean
  wait: boolean
  /** Hard limit for the whole run (write, sync, wait). */
  timeoutMs: number
  pollMs: number
  retryBaseMs: number
}

export interface DeployLog {
  info(message: string): void
  debug(message: string): void
}

export type SyncOutcome =
  | {kind: 'not-requested'}
  | {kind: 'triggered'}
  /** An operation was already running (often auto-sync); we waited for it instead of starting another. */
  | {kind: 'joined'; phase: string}

export type WaitOutcome =
  | {kind: 'skipped'}
  | {kind: 'done'}
  | {kind: 'failed'; reason: string; resources: ResourceLine[]}
  | {kind: 'timeout'; reason: string; progress?: Progress}

export interface DeployResult {
  operation: 'created' | 'updated' | 'unchanged'
  name: string
  project: string
  url: string
  /** Fields of the live app this write replaced (updates only). */
  changes: FieldChange[]
  movedFromProject?: string
  sync: SyncOutcome
  wait: WaitOutcome
  syncStatus: string
  healthStatus: string
  revision: string
  timeoutSeconds: number
}

const SHA = /^[0-9a-f]{40}$/i

function opFinished(app: Application): boolean {
  const op = app.status?.operationState
  return (
    !app.operation &&
    (!op || (!!op.finishedAt && op.phase !== 'Running' && op.phase !== 'Terminating'))
  )
}

export async function deploy(s: DeploySettings, log: DeployLog): Promise<DeployResult> {
  const client = new ArgoClient({
    server: s.server,
    token: s.token,
    insecure: s.insecure,
    ca: s.ca,
    retryBaseMs: s.retryBaseMs,
    onRetry: m => log.info(m)
  })
  const deadline = new AbortController()
  const timeoutSeconds = Math.round(s.timeoutMs / 1000)
  const timer = setTimeout(
    () =>
      deadline.abort(
        new ArgoApiError(
          'timeout',
          `timed out after ${timeoutSeconds}s (--timeout); raise --timeout if the rollout needs longer`
        )
      ),
    s.timeoutMs
  )
  try {
    return await run(s, client, deadline.signal, log, timeoutSeconds)
  } finally {
    clearTimeout(timer)
    client.close()
  }
}

async function run(
  s: DeploySettings,
  client: ArgoClient,
  signal: AbortSignal,
  log: DeployLog,
  timeoutSeconds: number
): Promise<DeployResult> {
  const a = s.app
  const appPath = `/api/v1/applications/${encodeURIComponent(a.name)}`
  const nsQuery = a.namespace ? {appNamespace: a.namespace} : undefined

  let existing: Application | undefined
  try {
    existing = await client.request<Application>('GET', appPath, {
      query: nsQuery,
      signal,
      doing: `reading application ${a.name}`
    })
  } catch (e) {
    // The server answers 403 for a missing app when no project is given, so
    // both mean "absent" here; a real permission problem resurfaces on create.
    if (!(e instanceof ArgoApiError && (e.kind === 'not-found' || e.kind === 'permission-denied')))
      throw e
    log.debug(`application ${a.name} not readable (${e.kind}); creating it`)
  }

  const body = upsertBody(a, existing)
  const changes = existing ? changedFields(existing, body) : []
  const movedFromProject =
    existing && existing.spec.project && existing.spec.project !== a.project
      ? existing.spec.project
      : undefined
  if (movedFromProject) {
    log.info(
      `application ${a.name} is in project '${movedFromProject}'; moving it to '${a.project}' (needs 'update' on both projects)`
    )
  }

  let stored: Application
  let operation: DeployResult['operation']
  if (existing && changes.length === 0) {
    operation = 'unchanged'
    stored = existing
    log.info(`application ${a.name} already matches; nothing written`)
  } else {
    stored = await client.request<Application>('POST', '/api/v1/applications', {
      query: {upsert: true, validate: true},
      body,
      signal,
      doing: `${existing ? 'updating' : 'creating'} application ${a.name}`
    })
    operation = existing ? 'updated' : 'created'
    log.info(`application ${a.name} ${operation}`)
  }

  const exp: Expectation = {
    source: stored.spec.source ?? body.spec.source!,
    destination: stored.spec.destination ?? body.spec.destination,
    ...(SHA.test(a.revision) ? {revision: a.revision} : {}),
    baseline: {
      operationStartedAt: stored.status?.operationState?.startedAt,
      reconciledAt: stored.status?.reconciledAt
    }
  }
  const watchOpts = {
    client,
    name: a.name,
    appNamespace: a.namespace,
    signal,
    pollMs: s.pollMs,
    reconnectMs: Math.min(1000, s.pollMs),
    idleMs: Math.max(45_000, s.pollMs * 3),
    info: (m: string) => log.info(m)
  }

  let current = stored
  let sync: SyncOutcome = {kind: 'not-requested'}
  let failure: WaitOutcome | undefined
  try {
    if (s.sync) {
      ;({sync, current} = await syncOnce(s, client, current, exp, signal, watchOpts, log))
      if (sync.kind === 'triggered') exp.baseline = {reconciledAt: exp.baseline?.reconciledAt}
      if (
        sync.kind === 'joined' &&
        !s.wait &&
        (sync.phase === 'Failed' || sync.phase === 'Error')
      ) {
        const verdict = evaluate(current, exp)
        failure = {
          kind: 'failed',
          reason: verdict.kind === 'failed' ? verdict.reason : `sync operation ${sync.phase}`,
          resources: verdict.kind === 'failed' ? verdict.resources : []
        }
      }
    }
  } catch (e) {
    if (e instanceof ArgoApiError && e.kind === 'timeout')
      failure = {kind: 'timeout', reason: e.message}
    else throw e
  }

  let wait: WaitOutcome = failure ?? {kind: 'skipped'}
  if (s.wait && !failure) {
    const automated =
      !!current.spec.syncPolicy?.automated && current.spec.syncPolicy.automated.enabled !== false
    if (!automated && !s.sync) {
      log.info(
        'note: the app has no automated sync policy and --sync was not given; --wait ends only if something else syncs it'
      )
    }
    let last: Evaluation | undefined
    let lastLine = ''
    try {
      const verdict = await watchUntil(watchOpts, app => {
        current = app
        const v = evaluate(app, exp)
        last = v
        if (v.kind === 'waiting') {
          // The reason is shown only when the progress line doesn't already say it.
          const why = /^(operation|sync|health) /.test(v.reason) ? '' : ` (${v.reason})`
          const line = `waiting: ${formatProgress(v.progress)}${why}`
          if (line !== lastLine) log.info(line)
          lastLine = line
          return undefined
        }
        return v
      })
      wait =
        verdict.kind === 'failed'
          ? {kind: 'failed', reason: verdict.reason, resources: verdict.resources}
          : {kind: 'done'}
    } catch (e) {
      if (!(e instanceof ArgoApiError && e.kind === 'timeout')) throw e
      const l = last as Evaluation | undefined
      wait = {
        kind: 'timeout',
        reason: `${e.message}; last state: ${l && l.kind === 'waiting' ? l.reason : 'unknown'}`,
        ...(l ? {progress: l.progress} : {})
      }
    }
  }

  return {
    operation,
    name: a.name,
    project: a.project,
    url: appUrl(
      s.server,
      current.metadata.namespace ? current : {name: a.name, namespace: a.namespace}
    ),
    changes,
    ...(movedFromProject ? {movedFromProject} : {}),
    sync,
    wait,
    syncStatus: current.status?.sync?.status ?? 'Unknown',
    healthStatus: current.status?.health?.status ?? 'Unknown',
    revision:
      current.status?.sync?.revision ?? current.status?.operationState?.syncResult?.revision ?? '',
    timeoutSeconds
  }
}

/**
 * Starts a sync only when no operation runs. If one does (typically the
 * auto-sync our write just triggered), waits for it; when it turns out to
 * have synced an older spec, syncs again.
 */
async function syncOnce(
  s: DeploySettings,
  client: ArgoClient,
  current: Application,
  exp: Expectation,
  signal: AbortSignal,
  watchOpts: Parameters<typeof watchUntil>[0],
  log: DeployLog
): Promise<{sync: SyncOutcome; current: Application}> {
  const a = s.app
  for (let attempt = 0; attempt < 3; attempt++) {
    let running = !opFinished(current)
    if (!running) {
      try {
        const synced = await client.request<Application>(
          'POST',
          `/api/v1/applications/${encodeURIComponent(a.name)}/sync`,
          {
            body: {
              name: a.name,
              ...(a.namespace ? {appNamespace: a.namespace} : {}),
              ...(a.autoPrune ? {prune: true} : {})
            },
            signal,
            doing: `syncing application ${a.name}`
          }
        )
        log.info(`sync of ${a.name} started`)
        return {sync: {kind: 'triggered'}, current: synced}
      } catch (e) {
        if (!(e instanceof ArgoApiError && e.kind === 'operation-in-progress')) throw e
        running = true
      }
    }
    log.info(
      'another operation is already in progress (auto-sync?); waiting for it instead of starting a second one'
    )
    current = await watchUntil(watchOpts, app => (opFinished(app) ? app : undefined))
    const op = current.status?.operationState
    const revisionOk =
      !exp.revision || op?.syncResult?.revision?.toLowerCase() === exp.revision.toLowerCase()
    if (op && sameJson(op.syncResult?.source, exp.source) && revisionOk) {
      log.info(`the running operation synced our spec and ended ${op.phase}`)
      return {sync: {kind: 'joined', phase: op.phase ?? 'Unknown'}, current}
    }
    if (op && !op.syncResult && (op.phase === 'Failed' || op.phase === 'Error')) {
      // Failed before producing a result (e.g. manifest generation): nothing to compare, report it.
      return {sync: {kind: 'joined', phase: op.phase}, current}
    }
    log.info('the operation that ran was for an older spec; syncing again')
  }
  throw new ArgoApiError(
    'operation-in-progress',
    `syncing application ${a.name} failed: operations kept starting before ours (3 attempts); check for a tool that syncs this app in a loop`
  )
}
