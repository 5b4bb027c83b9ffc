/**
 * `set-image --repo`: the local edit engine run inside remoteWrite. Settings
 * parsing and result rendering live here so the command file only
 * dispatches between local and remote mode.
 */
import {
  ciSourceFromEnv,
  renderCommitMessage,
  validateMessageTemplate,
  type MessageChange
} from '../core/commit-message.js'
import {UsageError} from '../core/errors.js'
import {
  planEdits,
  requestedPatterns,
  writeEdits,
  type EditOutcome,
  type EditRequest
} from '../edit/apply.js'
import type {OptionSpec, OutputSpec} from '../platform/inputs.js'
import type {Platform} from '../platform/port.js'
import type {Identity} from './git.js'
import {remoteReport} from '../commands/render-edits.js'
import type {Backoff} from '../core/backoff.js'
import type {Planner} from './remote-write.js'
import {readTransport, type TransportSettings} from '../transport/select.js'
import {setImageApiPlanner} from '../transport/set-image-planner.js'
import {transportReport, transportWrite, type TransportReport} from '../transport/run.js'
import type {RepoApi} from '../transport/transport.js'

import type {Env} from '../platform/inputs.js'

export const DEFAULT_AUTHOR: Identity = {
  name: 'gitops-deploy',
  email: 'gitops-deploy@users.noreply.github.com'
}
export const DEFAULT_MAX_ATTEMPTS = 10

/**
 * Options set-image adds for --repo; `repo` and `author` are shared with
 * --mode pr and declared there. No `default` fields on purpose: action inputs
 * are shared between commands, and a default in action.yml would reach
 * promote too (whose --max-attempts default differs).
 */
export const REMOTE_OPTIONS: OptionSpec[] = [
  {
    name: 'branch',
    type: 'string',
    description:
      "with --repo (direct push): config repo branch to commit to; default: the remote's default branch"
  },
  {
    name: 'message',
    type: 'string',
    description:
      'with --repo: commit message template; {{subject}}, {{changes}}, {{apps}}, {{tags}}, {{images}}, {{paths}}, {{files}}, {{branch}}, {{source_repo}}, {{source_commit}}, {{actor}}, {{run_url}}, {{trailers}}; \\n is a newline'
  },
  {
    name: 'max-attempts',
    type: 'string',
    description:
      'with --repo: pushes to try when other jobs move the branch or the server fails transiently (5xx, dropped connection; each re-applies the edit on the new tip), and tries per clone/fetch; default 10'
  }
]

export const REMOTE_OUTPUTS: OutputSpec[] = [
  {name: 'commit', description: "with --repo: sha of the pushed commit; '' when none"},
  {name: 'pushed', description: "with --repo: 'true' when a commit was pushed"},
  {
    name: 'attempts',
    description:
      'with --repo: push attempts made (1 unless the branch moved or a push failed transiently)'
  },
  {name: 'branch', description: 'with --repo: the config repo branch written to'}
]

export interface RemoteSettings {
  repo: string
  branch?: string
  message?: string
  author: Identity
  maxAttempts: number
  env: Env
  cwd: string
  /** Tests shorten the waits; the CLI always uses the default policy. */
  backoff?: Backoff
  transport: TransportSettings
  /** Tests shrink GitHub's API pacing; the CLI uses real seconds. */
  apiMsPerSecond?: number
  /** Tests and benchmarks read the API client's request count. */
  onApi?: (api: RepoApi) => void
  /** --author given explicitly (GitHub API commits cannot honour it). */
  authorGiven: boolean
  provider?: string
  apiUrl?: string
}

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

/** Parses `Name <email>`; throws UsageError with the expected form. */
export function parseAuthor(value: string | undefined): Identity {
  if (value === undefined || value.trim() === '') return DEFAULT_AUTHOR
  const m = /^\s*([^<>]*?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(value)
  if (!m || !m[1]) {
    throw new UsageError(
      `--author ${JSON.stringify(value)} is not "Name <email>"; pass e.g. --author "Deploy Bot <deploy@example.com>"`
    )
  }
  return {name: m[1], email: m[2]}
}

export function parseMaxAttempts(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_MAX_ATTEMPTS
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 100) {
    throw new UsageError(
      `--max-attempts must be a whole number from 1 to 100, got ${JSON.stringify(value)}`
    )
  }
  return n
}

/** Remote settings from the option reader, or undefined in local mode. */
export function remoteSettings(
  input: {string(name: string): string | undefined; boolean(name: string): boolean | undefined},
  env: Env,
  cwd: string
): RemoteSettings | undefined {
  const repo = input.string('repo')
  // Only options without an action default: `author` always arrives in the action.
  const remoteOnly = ['branch', 'message'].filter(n => input.string(n)?.trim())
  if (input.boolean('require-verified')) remoteOnly.push('require-verified')
  if (repo === undefined || repo.trim() === '') {
    if (remoteOnly.length > 0) {
      throw new UsageError(
        `--${remoteOnly[0]} only applies with --repo; add --repo <url> or drop --${remoteOnly[0]}`
      )
    }
    return undefined
  }
  if (input.string('root') !== undefined) {
    throw new UsageError(
      '-C/--root and --repo exclude each other: --repo edits a fresh clone of the remote; drop one of them'
    )
  }
  const message = input.string('message')
  if (message !== undefined) validateMessageTemplate(message)
  const branch = input.string('branch')?.trim() || undefined
  if (branch !== undefined && !/^(?!-)(?!.*\.\.)[^\s~^:?*[\\]+$/.test(branch)) {
    throw new UsageError(
      `--branch ${JSON.stringify(branch)} is not a valid branch name; pass e.g. main`
    )
  }
  return {
    repo: repo.trim(),
    branch,
    message,
    author: parseAuthor(input.string('author')),
    authorGiven: Boolean(input.string('author')?.trim()),
    maxAttempts: parseMaxAttempts(input.string('max-attempts')),
    env,
    cwd,
    transport: readTransport(input),
    provider: input.string('provider')?.trim() || undefined,
    apiUrl: input.string('api-url')?.trim() || undefined
  }
}

export function setImagePlanner(request: EditRequest): Planner<EditOutcome> {
  return {
    // Validates every argument before anything is cloned.
    patterns: requestedPatterns(request),
    plan: root => planEdits(root, request),
    write: writeEdits
  }
}

export function messageChanges(outcome: EditOutcome): MessageChange[] {
  return outcome.edits.map(e => ({
    file: e.file,
    name: e.image ?? e.key ?? '',
    kind: e.image !== undefined ? 'image' : 'key',
    before: e.before,
    after: e.after
  }))
}

/**
 * Runs set-image against the remote config repo. Returns the edit outcome
 * (for the usual set-image outputs) and the remote report.
 */
export async function runRemoteSetImage(
  request: EditRequest,
  settings: RemoteSettings,
  dryRun: boolean,
  platform: Platform
): Promise<{outcome: EditOutcome; remote: RemoteReport}> {
  const source = ciSourceFromEnv(settings.env)
  // Both planners validate every argument before anything is read.
  const planner = setImagePlanner(request)
  const result = await transportWrite({
    transport: settings.transport,
    repo: settings.repo,
    cwd: settings.cwd,
    branch: settings.branch,
    provider: settings.provider,
    apiUrl: settings.apiUrl,
    env: settings.env,
    gitPlanner: planner,
    apiPlanner: setImageApiPlanner(request),
    message: (outcome, branch) =>
      renderCommitMessage(settings.message, {
        changes: messageChanges(outcome),
        paths: request.paths,
        branch,
        source
      }),
    author: settings.author,
    authorGiven: settings.authorGiven,
    maxAttempts: settings.maxAttempts,
    dryRun,
    platform,
    backoff: settings.backoff,
    apiMsPerSecond: settings.apiMsPerSecond,
    onApi: settings.onApi
  })
  return {
    outcome: result.outcome,
    remote: remoteReport(result, transportReport(result))
  }
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
