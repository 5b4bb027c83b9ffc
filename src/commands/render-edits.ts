/**
 * Reports shared by the commands that edit a config repo (set-image,
 * argo-app): what a PR lifecycle and a remote write did, as outputs, JSON and
 * CLI text. Kept apart from the commands so each renders the same facts the
 * same way.
 */
import type {PrLifecycleResult} from '../forge/pr-lifecycle.js'
import {remoteText, type RemoteReport} from '../git/remote-set-image.js'
import {commitUrl, displayUrl} from '../git/remote-url.js'
import type {PlanOutcome, RemoteWriteResult} from '../git/remote-write.js'

/** The pr-number, pr-url and pr-operation outputs. */
export function prLifecycleOutputs(l: PrLifecycleResult): Record<string, string> {
  return {
    ...(l.operation === 'no-op'
      ? {'pr-number': '', 'pr-url': '', 'pr-operation': 'no-op'}
      : {
          'pr-number': String(l.pullRequest.number),
          'pr-url': l.pullRequest.url,
          'pr-operation': l.operation
        }),
    ...(l.transport
      ? {
          transport: l.transport,
          verified: l.verification ? String(l.verification.verified) : ''
        }
      : {})
  }
}

export function prLifecycleJson(l: PrLifecycleResult): Record<string, unknown> {
  return {
    branch: l.branch,
    base: l.base,
    pullRequest:
      l.operation === 'no-op'
        ? {number: null, url: null, operation: 'no-op'}
        : {
            number: l.pullRequest.number,
            url: l.pullRequest.url,
            operation: l.operation,
            commit: l.commit
          },
    ...(l.transport
      ? {
          transport: l.transport,
          transportReason: l.transportReason,
          verified: l.verification?.verified ?? null,
          ...(l.verification ? {verification: l.verification.reason} : {})
        }
      : {})
  }
}

export function prLifecycleText(l: PrLifecycleResult): string {
  return l.operation === 'no-op'
    ? `${l.base} already has this change; no pull request opened`
    : `pull request ${l.operation}: ${l.pullRequest.url} (branch ${l.branch}${viaApi(l)})`
}

/** Only the API is worth a mention: git is how PR branches always travelled. */
function viaApi(l: PrLifecycleResult): string {
  if (l.transport !== 'api') return ''
  const v = l.verification
  return `, via api${v === undefined ? '' : v.verified ? ', verified' : ', not verified'}`
}

/**
 * What a remote write did, for outputs and text. `extra` carries what the
 * caller's writer adds (set-image: transport and verification).
 */
export function remoteReport(
  result: RemoteWriteResult<PlanOutcome>,
  extra: Partial<RemoteReport> = {}
): RemoteReport {
  const base = {
    repo: displayUrl(result.remote),
    branch: result.branch,
    attempts: result.attempts,
    ...extra
  }
  switch (result.kind) {
    case 'pushed':
      return {
        ...base,
        commit: result.commit,
        pushed: true,
        commitUrl: commitUrl(result.remote, result.commit),
        message: result.message
      }
    case 'dry-run':
      return {...base, commit: null, pushed: false, message: result.message}
    case 'unchanged':
      return {...base, commit: null, pushed: false}
    case 'rejected':
      return {
        ...base,
        commit: null,
        pushed: false,
        rejected: {reason: result.reason, detail: result.detail}
      }
  }
}

export interface EditReport {
  changed: boolean
  dryRun: boolean
  /** The unified diff, printed first under --dry-run. */
  diff: string
  pr?: PrLifecycleResult
  remote?: RemoteReport
}

/** The CLI text: the command's own `lines`, then the PR or push report. */
export function editText(lines: readonly string[], r: EditReport): string {
  const out = [...lines]
  if (r.pr) out.push(prLifecycleText(r.pr))
  if (r.remote) {
    // A failed push leads, so the action's failure message names it.
    const first = r.remote.rejected || r.remote.verificationFailure
    out.splice(first ? 0 : out.length, 0, ...remoteText(r.remote, r.changed, r.dryRun))
  }
  const text = out.join('\n') + '\n'
  return r.dryRun && r.changed ? `${r.diff}${text}` : text
}
