/**
 * The one report of a delivery: what a push or a PR lifecycle did, as
 * outputs, JSON, CLI text and job summary. Every editing command renders the
 * same facts the same way; the command adds only its own lines.
 */
import type {PrLifecycleResult} from './pull-request.js'
import {commitUrl} from '../forge/registry.js'
import {displayUrl} from '../git/remote-url.js'
import type {RemoteWriteResult} from './push-git.js'
import type {CheckReport, PlanOutcome} from '../edits/edit.js'
import type {TransportReport} from './push.js'

/** What remote mode adds to set-image's result. */
export interface RemoteReport extends Partial<TransportReport> {
  repo: string
  branch: string
  commit: string | null
  pushed: boolean
  attempts: number
  /** Link to the commit in the forge's UI, when the URL allows one. */
  commitUrl?: string
  /** The commit message of the (would-be) commit. */
  message?: string
  /** Set when the push was refused for good; the command then exits 1. */
  rejected?: {reason: string; detail: string}
}

/** The pr-number, pr-url and pr-operation outputs. */
export function prLifecycleOutputs(l: PrLifecycleResult): Record<string, string> {
  return {
    ...(l.operation === 'no-op'
      ? l.closed
        ? {'pr-number': String(l.closed.number), 'pr-url': l.closed.url, 'pr-operation': 'closed'}
        : {'pr-number': '', 'pr-url': '', 'pr-operation': 'no-op'}
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
        ? l.closed
          ? {number: l.closed.number, url: l.closed.url, operation: 'closed'}
          : {number: null, url: null, operation: 'no-op', ...(l.kept ? {kept: l.kept} : {})}
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
    ? l.closed
      ? `${l.base} already has this change; closed the stale pull request ${l.closed.url} and deleted branch ${l.branch}`
      : `${l.base} already has this change; no pull request opened${l.kept ? ` (an open one for ${l.branch} is kept: ${l.kept})` : ''}`
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

/** First line of the CLI text / the action's failure message when the push was refused. */
export function rejectionText(remote: RemoteReport): string | undefined {
  if (!remote.rejected) return undefined
  const why: Record<string, string> = {
    moved: remote.rejected.detail,
    protected: `branch '${remote.branch}' is protected (${oneLine(remote.rejected.detail)}); push through a pull request instead, or allow the token's identity to bypass the rule`,
    'hook-declined': `a server-side hook declined the push (${oneLine(remote.rejected.detail)}); fix what the hook reports, then re-run`,
    other: `the server rejected the push (${oneLine(remote.rejected.detail)})`
  }
  return `error: push to ${remote.branch} of ${remote.repo} rejected after ${remote.attempts} attempt${remote.attempts === 1 ? '' : 's'}: ${why[remote.rejected.reason] ?? oneLine(remote.rejected.detail)}`
}

function oneLine(text: string): string {
  return text.split('\n').filter(Boolean).join(' | ')
}

export function remoteOutputs(remote: RemoteReport | undefined): Record<string, string> {
  if (!remote) return {}
  return {
    commit: remote.commit ?? '',
    pushed: String(remote.pushed),
    attempts: String(remote.attempts),
    branch: remote.branch,
    ...(remote.transport
      ? {
          transport: remote.transport,
          verified: remote.verified === undefined ? '' : String(remote.verified)
        }
      : {})
  }
}

export function remoteJson(remote: RemoteReport | undefined): Record<string, unknown> {
  if (!remote) return {}
  return {
    commit: remote.commit,
    pushed: remote.pushed,
    attempts: remote.attempts,
    branch: remote.branch,
    repo: remote.repo,
    ...(remote.commitUrl ? {commitUrl: remote.commitUrl} : {}),
    ...(remote.transport
      ? {
          transport: remote.transport,
          transportReason: remote.transportReason,
          verified: remote.verified ?? null,
          ...(remote.verificationReason ? {verification: remote.verificationReason} : {})
        }
      : {}),
    ...(remote.rejected ? {error: rejectionText(remote)} : {}),
    ...(remote.verificationFailure ? {error: `error: ${remote.verificationFailure}`} : {})
  }
}

/** Lines for the CLI text after the per-edit lines. */
export function remoteText(remote: RemoteReport, changed: boolean, dryRun: boolean): string[] {
  const via = remote.transport ? ` via ${remote.transport}` : ''
  if (remote.rejected) return [rejectionText(remote)!]
  if (remote.verificationFailure) return [`error: ${remote.verificationFailure}`]
  if (remote.pushed) {
    const signed =
      remote.verified === undefined ? '' : remote.verified ? ', verified' : ', not verified'
    return [
      `pushed ${remote.commit} to ${remote.branch} of ${remote.repo}${via}${signed}${remote.attempts > 1 ? ` (attempt ${remote.attempts})` : ''}`
    ]
  }
  if (dryRun && changed) {
    return [
      `dry run: would commit to ${remote.branch} of ${remote.repo}:`,
      ...indent(remote.message ?? '')
    ]
  }
  return [`${remote.branch} of ${remote.repo} already up to date; no commit`]
}

function indent(text: string): string[] {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map(l => `  ${l}`)
}

/** Markdown for the job summary. */
export function remoteSummary(remote: RemoteReport): string {
  const commit = remote.commit
    ? remote.commitUrl
      ? `[\`${remote.commit.slice(0, 12)}\`](${remote.commitUrl})`
      : `\`${remote.commit.slice(0, 12)}\``
    : remote.rejected
      ? `none: ${rejectionText(remote)!.replace(/^error: /, '')}`
      : 'none (nothing to change)'
  const failed = remote.verificationFailure ? `\n**Error:** ${remote.verificationFailure}\n` : ''
  const transport = remote.transport
    ? `\n**Transport:** ${remote.transport} (${remote.transportReason})\n\n**Verified:** ${remote.verified === undefined ? 'unknown' : remote.verified ? 'yes' : `no (${remote.verificationReason ?? 'unknown'})`}\n`
    : ''
  return `\n**Config repo:** ${remote.repo} (\`${remote.branch}\`)\n\n**Commit:** ${commit}\n\n**Attempts:** ${remote.attempts}\n${transport}${failed}`
}

/** A delivery as the report reads it (structural: the report must not import deliver.ts). */
export interface DeliveryFacts {
  pr?: PrLifecycleResult
  remote?: RemoteReport
  /** What the checks before the write said. */
  checks?: CheckReport[]
}

/** The render check's status for the `render-check` output: passed, skipped, off, or '' (not run). */
export function checkOutputs(checks: CheckReport[] | undefined): Record<string, string> {
  return {'render-check': checks?.find(c => c.check === 'render')?.status ?? ''}
}

/** The delivery outputs of set-image-like commands: PR or push facts, whichever ran. */
export function deliveryOutputs(d: DeliveryFacts): Record<string, string> {
  return {
    ...(d.pr ? prLifecycleOutputs(d.pr) : {}),
    ...remoteOutputs(d.remote),
    ...checkOutputs(d.checks)
  }
}

export function deliveryJson(d: DeliveryFacts): Record<string, unknown> {
  return {
    ...(d.pr ? prLifecycleJson(d.pr) : {}),
    ...remoteJson(d.remote),
    ...(d.checks?.length ? {checks: d.checks} : {})
  }
}

/** A push that was refused or a commit that failed --require-verified fails the run. */
export function deliveryExitCode(d: DeliveryFacts): number {
  return d.remote?.rejected || d.remote?.verificationFailure ? 1 : 0
}
