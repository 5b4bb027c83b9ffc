import {sameJson} from './application.js'
import type {Application, ApplicationDestination, ApplicationSource} from './types.js'

/** What "deployed" means for this run: the spec we wrote, at the revision we asked for. */
export interface Expectation {
  /**
   * The spec we wrote. Absent when waiting for a commit on an app whose spec
   * did not change: then a snapshot is "fresh" once it compared an accepted
   * revision, and an operation is ours when it synced one.
   */
  source?: ApplicationSource
  destination?: ApplicationDestination
  /** A full commit SHA that status.sync.revision must equal; branches/tags can't be checked locally. */
  revision?: string
  /**
   * Instead of `revision`: accepts the compared revision when this says so
   * (e.g. "this commit or a descendant", for a wait on a pushed commit).
   */
  acceptRevision?: (revision: string) => boolean
  /** A multi-source app: the index in spec.sources whose revision is judged. */
  sourceIndex?: number
  /**
   * We requested a sync: only an operation that started after the baseline
   * one is ours. Without this, a previous operation that synced the same
   * spec counts (an auto-sync of an unchanged app is its last word).
   */
  ownOperation?: boolean
  /** Health values that count as done besides Healthy (e.g. Suspended for a paused rollout). */
  acceptHealth?: string[]
  /**
   * The app as it was right after our write. An operation or condition
   * already there belongs to the previous spec and must neither pass nor
   * fail this run.
   */
  baseline?: {
    operationStartedAt?: string
    /** With ownOperation: when the operation before our sync finished (it had, or we would not have synced). */
    operationFinishedAt?: string
    reconciledAt?: string
  }
}

export interface ResourceLine {
  kind: string
  name: string
  namespace?: string
  sync?: string
  health?: string
  message?: string
}

export interface Progress {
  phase: string
  sync: string
  health: string
  revision?: string
  /** status.sync.comparedTo shows our spec (not the previous one). */
  fresh: boolean
  pending: ResourceLine[]
}

export type Evaluation =
  | {kind: 'done'; progress: Progress}
  | {kind: 'waiting'; reason: string; progress: Progress}
  | {
      kind: 'failed'
      reason: string
      progress: Progress
      resources: ResourceLine[]
      /** 'degraded' failures may be transient during a rollout; a caller can grant a grace period. */
      cause?: 'operation' | 'condition' | 'degraded' | 'prune'
    }

const FAILING_CONDITIONS = new Set(['ComparisonError', 'InvalidSpecError', 'SyncError'])

function time(t?: string): number {
  const n = t ? Date.parse(t) : NaN
  return Number.isNaN(n) ? -Infinity : n
}

/** Resources that are not both Synced and Healthy, with the most useful message we have. */
export function unhealthyResources(app: Application): ResourceLine[] {
  const results = app.status?.operationState?.syncResult?.resources ?? []
  const key = (r: {kind?: string; name?: string; namespace?: string}) =>
    `${r.kind}/${r.namespace ?? ''}/${r.name}`
  const resultMessages = new Map<string, string>()
  for (const r of results) {
    // Pruned is a success: the resource is gone as asked. PruneSkipped stays: it still needs pruning.
    if (r.message && r.status && r.status !== 'Synced' && r.status !== 'Pruned')
      resultMessages.set(key(r), r.message)
    else if (r.message && r.hookPhase && /Failed|Error/.test(r.hookPhase))
      resultMessages.set(key(r), r.message)
  }
  const out: ResourceLine[] = []
  const seen = new Set<string>()
  for (const r of app.status?.resources ?? []) {
    const health = r.health?.status
    const badHealth = health !== undefined && health !== 'Healthy'
    const badSync = r.status !== undefined && r.status !== 'Synced'
    if (!badHealth && !badSync && !resultMessages.has(key(r))) continue
    seen.add(key(r))
    const message = [r.health?.message, resultMessages.get(key(r))].filter(Boolean).join('; ')
    out.push({
      kind: r.kind ?? '?',
      name: r.name ?? '?',
      ...(r.namespace ? {namespace: r.namespace} : {}),
      ...(r.status ? {sync: r.status} : {}),
      ...(health ? {health} : {}),
      ...(message ? {message} : {})
    })
  }
  // Failed sync results for resources the status no longer lists (e.g. a rejected manifest).
  for (const r of results) {
    if (seen.has(key(r)) || !resultMessages.has(key(r))) continue
    out.push({
      kind: r.kind ?? '?',
      name: r.name ?? '?',
      ...(r.namespace ? {namespace: r.namespace} : {}),
      sync: r.status ?? r.hookPhase ?? 'Failed',
      message: resultMessages.get(key(r))
    })
  }
  return out
}

export function formatResource(r: ResourceLine): string {
  const state = [r.sync, r.health].filter(Boolean).join('/')
  const id = `${r.kind}/${r.namespace ? `${r.namespace}/` : ''}${r.name}`
  return `${id}${state ? ` (${state})` : ''}${r.message ? `: ${r.message}` : ''}`
}

export function formatProgress(p: Progress): string {
  const head = `operation ${p.phase}, sync ${p.sync}, health ${p.health}`
  if (!p.pending.length) return head
  const shown = p.pending.slice(0, 5).map(formatResource)
  const more = p.pending.length > 5 ? `, +${p.pending.length - 5} more` : ''
  return `${head}; not ready: ${shown.join(', ')}${more}`
}

/**
 * Judges one snapshot of the app. Never trusts a Synced/Healthy state until
 * the controller has compared *our* spec (comparedTo) at the expected
 * revision: right after an upsert the app still shows the previous revision's
 * state, which is how naive `wait --sync --health` reports false successes.
 */
export function evaluate(app: Application, exp: Expectation): Evaluation {
  const status = app.status ?? {}
  const op = status.operationState
  const compared = status.sync?.comparedTo
  const revision =
    exp.sourceIndex !== undefined
      ? (status.sync?.revisions?.[exp.sourceIndex] ?? status.sync?.revision)
      : status.sync?.revision
  const accepts = (r: string | undefined): boolean =>
    exp.acceptRevision
      ? !!r && exp.acceptRevision(r)
      : !exp.revision || (r ?? '').toLowerCase() === exp.revision.toLowerCase()
  const revisionOk = accepts(revision)
  const fresh = exp.source
    ? sameJson(compared?.source, exp.source) &&
      (compared?.destination === undefined || sameJson(compared.destination, exp.destination))
    : revisionOk
  const baselineStart = exp.baseline?.operationStartedAt
  const baselineEnd = exp.baseline?.operationFinishedAt
  // Times have second precision: the finish time tells apart two short operations started in the same second.
  const isBaselineOp =
    !!op?.startedAt &&
    op.startedAt === baselineStart &&
    (baselineEnd === undefined || op.finishedAt === baselineEnd)
  const newerThanBaseline =
    !!op?.startedAt && !isBaselineOp && time(op.startedAt) >= time(baselineStart)
  // With a sync we requested, the operation must be a new one: a snapshot
  // that still shows the previous operation (same spec, maybe Failed) is
  // the state before our request, not its result.
  const opRevision =
    exp.sourceIndex !== undefined
      ? (op?.syncResult?.revisions?.[exp.sourceIndex] ?? op?.syncResult?.revision)
      : op?.syncResult?.revision
  const opIsOurs =
    !!op &&
    (exp.ownOperation
      ? newerThanBaseline
      : exp.source
        ? sameJson(op.syncResult?.source, exp.source) || newerThanBaseline
        : // A commit wait: the operation that synced an accepted revision (or one started since).
          opRevision
          ? accepts(opRevision)
          : newerThanBaseline)
  const opRunning =
    !!app.operation ||
    (!!op && (!op.finishedAt || op.phase === 'Running' || op.phase === 'Terminating'))
  const reconciledSinceWrite = fresh || time(status.reconciledAt) > time(exp.baseline?.reconciledAt)
  const progress: Progress = {
    phase: app.operation && !op ? 'Pending' : (op?.phase ?? 'none'),
    sync: status.sync?.status ?? 'Unknown',
    health: status.health?.status ?? 'Unknown',
    ...(revision ? {revision} : {}),
    fresh,
    pending: unhealthyResources(app)
  }
  const fail = (
    reason: string,
    cause: NonNullable<Extract<Evaluation, {kind: 'failed'}>['cause']>
  ) => ({kind: 'failed', reason, progress, resources: progress.pending, cause}) as const

  if (op && opIsOurs && (op.phase === 'Failed' || op.phase === 'Error')) {
    return fail(`sync operation ${op.phase}${op.message ? `: ${op.message}` : ''}`, 'operation')
  }
  const condition = (status.conditions ?? []).find(c => FAILING_CONDITIONS.has(c.type ?? ''))
  if (condition && reconciledSinceWrite) {
    return fail(`${condition.type}: ${condition.message ?? '(no message)'}`, 'condition')
  }
  if (!fresh) {
    const reason = exp.source
      ? 'Argo CD has not compared the new spec yet'
      : `Argo CD has not compared the commit yet (at ${revision ? revision.slice(0, 12) : 'none'})`
    return {kind: 'waiting', reason, progress}
  }
  if (!revisionOk) {
    return {
      kind: 'waiting',
      reason: `waiting for revision ${exp.revision ?? 'accepted by the caller'} (at ${revision ?? 'none'})`,
      progress
    }
  }
  if (opRunning) return {kind: 'waiting', reason: `operation ${progress.phase}`, progress}
  if (exp.ownOperation && !opIsOurs) {
    return {kind: 'waiting', reason: 'waiting for our sync operation to show', progress}
  }
  if (op && opIsOurs && op.phase !== 'Succeeded') {
    return {kind: 'waiting', reason: `operation ${op.phase ?? 'pending'}`, progress}
  }
  // Before judging health: until the controller reconciles after the
  // operation, health (Degraded included) describes the previous revision.
  if (op?.finishedAt && time(status.reconciledAt) < time(op.finishedAt)) {
    return {
      kind: 'waiting',
      reason: 'waiting for the controller to reconcile after the sync',
      progress
    }
  }
  if (progress.health === 'Degraded' && !exp.acceptHealth?.includes('Degraded')) {
    return fail(
      `health Degraded${status.health?.message ? `: ${status.health.message}` : ''}`,
      'degraded'
    )
  }
  if (progress.sync !== 'Synced') {
    const prune = (status.resources ?? []).filter(r => r.requiresPruning)
    if (op && opIsOurs && prune.length) {
      // Our sync succeeded but left resources that only a pruning sync removes: waiting can't help.
      const names = prune.map(r => `${r.kind}/${r.namespace ? `${r.namespace}/` : ''}${r.name}`)
      return fail(
        `${prune.length} resource${prune.length === 1 ? '' : 's'} require${prune.length === 1 ? 's' : ''} pruning: ${names.join(', ')}; ` +
          'sync with pruning (--prune), or let auto-sync prune (--sync-policy automated --auto-prune)',
        'prune'
      )
    }
    return {kind: 'waiting', reason: `sync ${progress.sync}`, progress}
  }
  const accepted = ['Healthy', ...(exp.acceptHealth ?? [])]
  if (!accepted.includes(progress.health))
    return {kind: 'waiting', reason: `health ${progress.health}`, progress}
  return {kind: 'done', progress}
}
