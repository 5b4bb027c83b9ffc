import {UsageError} from '../core/errors.js'
import {
  appUrl,
  changedFields,
  type AppSettings,
  type FieldChange,
  sameJson,
  upsertBody
} from './application.js'
import {ArgoApiError, ArgoClient, deadline, withArgoClient} from './client.js'
import {evaluate, type Expectation} from './health.js'
import type {Application} from './types.js'
import {newerResourceVersion, waitForApp, type WaitOutcome} from './wait.js'
import {watchUntil, type WatchOptions} from './watch.js'

export type {WaitOutcome} from './wait.js'

export interface DeploySettings {
  server: string
  token: string
  insecure: boolean
  ca?: string
  app: AppSettings
  sync: boolean
  /** Sync with pruning (manual sync; auto-sync prunes with --auto-prune). */
  prune?: boolean
  wait: boolean
  /** Hard limit for the whole run (write, sync, wait). */
  timeoutMs: number
  pollMs: number
  retryBaseMs: number
  /** Per-request limit; above the server's 60 s render limit by default. */
  requestTimeoutMs?: number
  /** validate=true (default): the server renders the manifests before writing. */
  validate?: boolean
  /** Health values accepted as done besides Healthy (Suspended, Degraded). */
  acceptHealth?: string[]
  /** How long a Degraded health may last during the wait before it fails. */
  degradedGraceMs?: number
  /** Overwrite a multi-source or source-hydrator app with the single source of the flags. */
  replaceSources?: boolean
  /** When the wait fails: write back the spec the app had before this run, sync it if asked, wait. */
  rollbackOnFailure?: boolean
}

/** What --rollback-on-failure did after a failed wait. */
export type AppRollback =
  | {kind: 'rolled-back'; revision: string; wait: WaitOutcome}
  | {kind: 'not-rolled-back'; reason: string}

export interface DeployLog {
  info(message: string): void
  debug(message: string): void
}

export type SyncOutcome =
  | {kind: 'not-requested'}
  | {kind: 'triggered'}
  /** An operation was already running (often auto-sync); we waited for it instead of starting another. */
  | {kind: 'joined'; phase: string}

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
  /** --rollback-on-failure, when the wait failed. */
  rollback?: AppRollback
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
  return withArgoClient(
    s,
    s.timeoutMs,
    m => log.info(m),
    (client, deadline, timeoutSeconds) => run(s, client, deadline, log, timeoutSeconds)
  )
}

function isAutomated(app: Pick<Application, 'spec'>): boolean {
  const automated = app.spec.syncPolicy?.automated
  return !!automated && automated.enabled !== false
}

/** The RBAC object of an app, as the server names it (namespace only outside the control plane). */
function rbacObject(a: AppSettings): string {
  return `${a.project}/${a.namespace ? `${a.namespace}/` : ''}${a.name}`
}

function cannotRead(a: AppSettings): ArgoApiError {
  return new ArgoApiError(
    'permission-denied',
    `application ${a.name} exists but the token may not read it, so nothing was written: an update without reading it ` +
      `would drop its finalizers (resources-finalizer included) and every setting made outside this tool; ` +
      `grant the account behind ARGOCD_AUTH_TOKEN 'applications, get, ${rbacObject(a)}' (argocd-rbac-cm policy or a project role)`
  )
}

type Existing = {kind: 'present'; app: Application} | {kind: 'absent'}

/**
 * Reads the live app and tells absence from denial. Without a project the
 * server answers a bare 403 for both (CVE-2022-41354); with `?project=` it
 * answers 404 for an app that is not there (in that project) and still 403
 * for one the token may not read.
 */
async function readExisting(
  client: ArgoClient,
  a: AppSettings,
  signal: AbortSignal,
  log: DeployLog
): Promise<Existing> {
  const path = `/api/v1/applications/${encodeURIComponent(a.name)}`
  const ns = a.namespace ? {appNamespace: a.namespace} : {}
  const doing = `reading application ${a.name}`
  try {
    return {kind: 'present', app: await client.requestApp('GET', path, {query: ns, signal, doing})}
  } catch (e) {
    if (!(e instanceof ArgoApiError && (e.kind === 'not-found' || e.kind === 'permission-denied')))
      throw e
    log.debug(
      `application ${a.name} not readable without a project (${e.kind}); asking in project ${a.project}`
    )
  }
  try {
    const app = await client.requestApp('GET', path, {
      query: {...ns, project: a.project},
      signal,
      doing
    })
    return {kind: 'present', app}
  } catch (e) {
    if (e instanceof ArgoApiError && e.kind === 'not-found') {
      log.debug(`application ${a.name} is not in project ${a.project}; creating it`)
      return {kind: 'absent'}
    }
    if (e instanceof ArgoApiError && e.kind === 'permission-denied') throw cannotRead(a)
    throw e
  }
}

/** A write whose answer never came: did it land? Reads the app and compares. */
async function landed(
  client: ArgoClient,
  a: AppSettings,
  body: Application,
  signal: AbortSignal,
  log: DeployLog
): Promise<Application | undefined> {
  log.info(
    `the write's outcome is unknown; reading application ${a.name} before anything is repeated`
  )
  const now = await readExisting(client, a, signal, log)
  if (now.kind === 'present' && changedFields(now.app, body).length === 0) return now.app
  return undefined
}

async function run(
  s: DeploySettings,
  client: ArgoClient,
  signal: AbortSignal,
  log: DeployLog,
  timeoutSeconds: number
): Promise<DeployResult> {
  const a = s.app
  const validate = s.validate !== false

  let found = await readExisting(client, a, signal, log)
  let existing = found.kind === 'present' ? found.app : undefined
  // The app as it was before this run: what --rollback-on-failure writes back.
  const previous = existing
  refuseOtherSourceKinds(a, existing, s.replaceSources === true)

  let body = upsertBody(a, existing)
  let changes = existing ? changedFields(existing, body) : []
  const exp: Expectation = {
    source: body.spec.source!,
    destination: body.spec.destination,
    ...(SHA.test(a.revision) ? {revision: a.revision} : {}),
    ...(s.acceptHealth?.length ? {acceptHealth: s.acceptHealth} : {})
  }

  // Refused before writing: a manual-sync app that nothing will sync.
  if (s.wait && !s.sync && !isAutomated(body)) {
    const alreadyThere =
      existing && changes.length === 0 && evaluate(existing, {...exp, baseline: {}}).kind === 'done'
    if (!alreadyThere) {
      throw new UsageError(
        `--wait without --sync on application ${a.name}, which has no automated sync policy: nothing would start a sync ` +
          `and the wait would run into --timeout; add --sync (or --sync-policy automated)`
      )
    }
  }

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
    let created = !existing
    for (let attempt = 0; ; attempt++) {
      try {
        stored = await write(client, a, body, existing, validate, signal)
        break
      } catch (e) {
        if (!(e instanceof ArgoApiError)) throw e
        if (
          !existing &&
          e.kind === 'invalid' &&
          /existing application spec is different/i.test(e.detail.serverMessage ?? '') &&
          attempt === 0
        ) {
          // It exists after all: in another project, or created concurrently. Read it, or stop.
          found = await readExisting(client, a, signal, log)
          if (found.kind !== 'present') throw cannotRead(a)
          existing = found.app
          refuseOtherSourceKinds(a, existing, s.replaceSources === true)
          body = upsertBody(a, existing)
          changes = changedFields(existing, body)
          created = false
          if (!changes.length) {
            stored = existing
            break
          }
          continue
        }
        if (!e.detail.outcomeUnknown) throw e
        const applied = await landed(client, a, body, signal, log)
        if (applied) {
          stored = applied
          break
        }
        if (/--request-timeout/.test(e.message) || attempt > 0) {
          // Repeating a write that ran out of time would render the manifests again and time out again.
          throw new ArgoApiError(
            e.kind,
            `${e.message}; the application was re-read and the write had not landed, so it was ${attempt > 0 ? 'not sent a third time' : 'not repeated'}` +
              (validate ? '; or pass --validate=false to write without rendering' : '')
          )
        }
        log.info('the write did not land; sending it again')
      }
    }
    operation = changes.length === 0 && !created ? 'unchanged' : created ? 'created' : 'updated'
    log.info(`application ${a.name} ${operation}`)
  }

  // The server's normalized source is what comparedTo will show.
  if (stored!.spec.source) exp.source = stored!.spec.source
  exp.destination = stored!.spec.destination ?? exp.destination
  exp.baseline = {
    operationStartedAt: stored!.status?.operationState?.startedAt,
    reconciledAt: stored!.status?.reconciledAt
  }
  let since = stored!.metadata.resourceVersion
  const watchOpts: WatchOptions = {
    client,
    name: a.name,
    appNamespace: a.namespace,
    signal,
    pollMs: s.pollMs,
    reconnectMs: Math.min(1000, s.pollMs),
    idleMs: Math.max(45_000, s.pollMs * 3),
    info: (m: string) => log.info(m)
  }

  let current = stored!
  let sync: SyncOutcome = {kind: 'not-requested'}
  let failure: WaitOutcome | undefined
  try {
    if (s.sync) {
      const r = await syncOnce(
        s,
        client,
        current,
        exp,
        signal,
        {...watchOpts, resourceVersion: since},
        log
      )
      ;({sync, current} = r)
      since = newerResourceVersion(since, current.metadata.resourceVersion)
      // Only an operation newer than the one before our request is ours.
      if (sync.kind === 'triggered') expectOwnOperation(exp, r.before)
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
    const result = await waitForApp(client, {
      name: a.name,
      appNamespace: a.namespace,
      expect: exp,
      signal,
      pollMs: s.pollMs,
      ...(s.degradedGraceMs !== undefined ? {degradedGraceMs: s.degradedGraceMs} : {}),
      // A branch or tag may have moved without the spec changing: have it resolved again.
      refresh: !SHA.test(a.revision),
      ...(since ? {since} : {}),
      info: m => log.info(m)
    })
    wait = result.outcome
    if (result.app) current = result.app
  }

  const rollback =
    s.rollbackOnFailure && (wait.kind === 'failed' || wait.kind === 'timeout')
      ? await rollBack(s, client, operation, previous, stored!, watchOpts, log)
      : undefined
  return {
    ...(rollback ? {rollback} : {}),
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

/** After a sync we triggered: only an operation newer than `before` (the one before our request) counts. */
function expectOwnOperation(
  exp: Expectation,
  before: {startedAt?: string; finishedAt?: string} | undefined
): void {
  exp.baseline = {
    operationStartedAt: before?.startedAt,
    operationFinishedAt: before?.finishedAt,
    reconciledAt: exp.baseline?.reconciledAt
  }
  exp.ownOperation = true
}

/**
 * --rollback-on-failure: the deploy did not become healthy, so the spec the
 * app had before this run is written back (and synced when --sync was given,
 * else auto-sync picks it up), then waited for under a fresh --timeout. Never
 * over a spec someone else wrote since this run's write.
 */
async function rollBack(
  s: DeploySettings,
  client: ArgoClient,
  operation: DeployResult['operation'],
  previous: Application | undefined,
  ours: Application,
  watchOpts: WatchOptions,
  log: DeployLog
): Promise<AppRollback> {
  const a = s.app
  if (operation !== 'updated' || !previous) {
    return {
      kind: 'not-rolled-back',
      reason:
        operation === 'created'
          ? 'this run created the application, so there is no earlier spec to restore (delete it if it should not exist)'
          : 'this run wrote nothing (the application already matched), so there is nothing to undo'
    }
  }
  const limit = deadline(
    s.timeoutMs,
    `the rollback timed out after ${Math.round(s.timeoutMs / 1000)}s (--timeout)`
  )
  try {
    const signal = limit.signal
    const now = await readExisting(client, a, signal, log)
    if (now.kind !== 'present') {
      return {
        kind: 'not-rolled-back',
        reason: 'the application is gone; nothing to restore it into'
      }
    }
    if (
      !sameJson(now.app.spec.source, ours.spec.source) ||
      now.app.spec.project !== ours.spec.project
    ) {
      return {
        kind: 'not-rolled-back',
        reason:
          'the application changed since this run wrote it (someone deployed again); left as it is'
      }
    }
    log.info(`rolling back application ${a.name} to the spec it had before this run`)
    const body: Application = {
      metadata: {
        name: previous.metadata.name,
        ...(previous.metadata.namespace ? {namespace: previous.metadata.namespace} : {}),
        ...(previous.metadata.labels ? {labels: previous.metadata.labels} : {}),
        ...(previous.metadata.annotations ? {annotations: previous.metadata.annotations} : {}),
        ...(previous.metadata.finalizers ? {finalizers: previous.metadata.finalizers} : {})
      },
      spec: previous.spec
    }
    const written = await write(client, a, body, now.app, s.validate !== false, signal)
    const source = written.spec.source ?? previous.spec.source!
    const revision = source.targetRevision ?? 'HEAD'
    const exp: Expectation = {
      source,
      destination: written.spec.destination,
      ...(SHA.test(revision) ? {revision} : {}),
      ...(s.acceptHealth?.length ? {acceptHealth: s.acceptHealth} : {}),
      baseline: {
        operationStartedAt: written.status?.operationState?.startedAt,
        reconciledAt: written.status?.reconciledAt
      }
    }
    let since = written.metadata.resourceVersion
    if (s.sync) {
      const r = await syncOnce(
        s,
        client,
        written,
        exp,
        signal,
        {...watchOpts, signal, resourceVersion: since},
        log
      )
      since = newerResourceVersion(since, r.current.metadata.resourceVersion)
      if (r.sync.kind === 'triggered') expectOwnOperation(exp, r.before)
    }
    const result = await waitForApp(client, {
      name: a.name,
      appNamespace: a.namespace,
      expect: exp,
      signal,
      pollMs: s.pollMs,
      ...(s.degradedGraceMs !== undefined ? {degradedGraceMs: s.degradedGraceMs} : {}),
      refresh: !SHA.test(revision),
      ...(since ? {since} : {}),
      info: m => log.info(`rollback: ${m}`)
    })
    return {kind: 'rolled-back', revision, wait: result.outcome}
  } catch (e) {
    if (e instanceof ArgoApiError) {
      return {kind: 'not-rolled-back', reason: `the rollback write failed: ${e.message}`}
    }
    throw e
  } finally {
    limit.clear()
  }
}

/**
 * Multi-source (`spec.sources`) and source-hydrator apps cannot be described
 * by the flags; upserting one source would silently replace them.
 */
function refuseOtherSourceKinds(
  a: AppSettings,
  existing: Application | undefined,
  replace: boolean
): void {
  if (!existing || replace) return
  const sources = existing.spec.sources
  const kind =
    Array.isArray(sources) && sources.length
      ? `spec.sources (${sources.length} sources)`
      : existing.spec.sourceHydrator
        ? 'spec.sourceHydrator'
        : undefined
  if (!kind) return
  throw new UsageError(
    `application ${a.name} uses ${kind}, which argo-upsert cannot describe; writing it would replace that with the single source of --repo/--path; ` +
      'pass --replace-sources to do exactly that, or change the app in git or by hand (argo-upsert does not edit multi-source or hydrator apps)'
  )
}

/**
 * The write itself: create (no upsert: the app was shown absent), upsert
 * (POST, merges labels/annotations), or update (PUT, replaces them) when a
 * label or annotation must go.
 */
async function write(
  client: ArgoClient,
  a: AppSettings,
  body: Application,
  existing: Application | undefined,
  validate: boolean,
  signal: AbortSignal
): Promise<Application> {
  const removes =
    !!existing &&
    ((a.removeLabels ?? []).some(k => existing.metadata.labels?.[k] !== undefined) ||
      (a.removeAnnotations ?? []).some(k => existing.metadata.annotations?.[k] !== undefined))
  if (removes) {
    return client.requestApp('PUT', `/api/v1/applications/${encodeURIComponent(a.name)}`, {
      query: {validate, project: a.project},
      body,
      signal,
      doing: `updating application ${a.name}`
    })
  }
  return client.requestApp('POST', '/api/v1/applications', {
    // Without upsert, an app that exists after all is refused (400) instead of overwritten.
    query: existing ? {upsert: true, validate} : {validate},
    body,
    signal,
    doing: `${existing ? 'updating' : 'creating'} application ${a.name}`
  })
}

/**
 * Starts a sync only when no operation runs. If one does (typically the
 * auto-sync our write just triggered), waits for it; when it turns out to
 * have synced an older spec, syncs again. `before` is the start time of the
 * operation the app showed before our request.
 */
async function syncOnce(
  s: DeploySettings,
  client: ArgoClient,
  current: Application,
  exp: Expectation,
  signal: AbortSignal,
  watchOpts: WatchOptions,
  log: DeployLog
): Promise<{
  sync: SyncOutcome
  current: Application
  before?: {startedAt?: string; finishedAt?: string}
}> {
  const a = s.app
  const path = `/api/v1/applications/${encodeURIComponent(a.name)}/sync`
  for (let attempt = 0; attempt < 3; attempt++) {
    let running = !opFinished(current)
    if (!running) {
      const before = {
        startedAt: current.status?.operationState?.startedAt,
        finishedAt: current.status?.operationState?.finishedAt
      }
      try {
        let synced: Application
        try {
          synced = await client.requestApp('POST', path, {
            body: {
              name: a.name,
              ...(a.namespace ? {appNamespace: a.namespace} : {}),
              ...(a.autoPrune || s.prune ? {prune: true} : {})
            },
            signal,
            doing: `syncing application ${a.name}`
          })
        } catch (e) {
          if (!(e instanceof ArgoApiError && e.detail.outcomeUnknown)) throw e
          // Did the sync land? An operation on the app says so; otherwise a repeat is safe.
          log.info(`the sync's outcome is unknown; reading application ${a.name} first`)
          const now = await client.requestApp(
            'GET',
            `/api/v1/applications/${encodeURIComponent(a.name)}`,
            {
              query: a.namespace ? {appNamespace: a.namespace} : undefined,
              signal,
              doing: `reading application ${a.name}`
            }
          )
          const started = now.status?.operationState?.startedAt
          if (now.operation || (started && started !== before.startedAt)) {
            synced = now
          } else {
            current = now
            log.info('the sync did not land; sending it again')
            continue
          }
        }
        log.info(`sync of ${a.name} started`)
        return {sync: {kind: 'triggered'}, current: synced, before}
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
