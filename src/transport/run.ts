import type {Env} from '../commands/types.js'
import {UsageError} from '../core/errors.js'
import type {Identity} from '../git/git.js'
import {parseRemoteUrl} from '../git/remote-url.js'
import {
  remoteWrite,
  type Backoff,
  type PlanOutcome,
  type Planner,
  type RemoteWriteResult
} from '../git/remote-write.js'
import type {Platform} from '../platform/port.js'
import {apiWrite} from './api-write.js'
import {
  repoApiFor,
  selectTransport,
  unsignedGitHubTokenKind,
  type TransportSettings
} from './select.js'
import {
  TransportUnavailable,
  type ApiPlanner,
  type RepoApi,
  type TransportKind,
  type Verification
} from './transport.js'

export interface TransportWriteInput<O extends PlanOutcome> {
  transport: TransportSettings
  repo: string
  cwd?: string
  branch?: string
  provider?: string
  apiUrl?: string
  env: Env
  gitPlanner: Planner<O>
  apiPlanner: ApiPlanner<O>
  message: (outcome: O, branch: string) => string
  author: Identity
  /** --author was given explicitly (GitHub API commits cannot honour it). */
  authorGiven: boolean
  maxAttempts: number
  dryRun: boolean
  platform: Platform
  backoff?: Backoff
  /** GitHub's pacing unit (ms per second of recommended wait); tests shrink it. */
  apiMsPerSecond?: number
  /** Tests and the benchmark read the request count of the API client. */
  onApi?: (api: RepoApi) => void
}

export type TransportWriteResult<O extends PlanOutcome> = RemoteWriteResult<O> & {
  transport: TransportKind
  /** Why this transport: shown in the output. */
  transportReason: string
  /** The forge's word on the commit's signature, when it was asked. */
  verification?: Verification
  /** --require-verified and the landed commit is not verified: the run fails (exit 1). */
  verificationFailure?: string
}

/** The transport facts a command reports (outputs, JSON, text, summary). */
export interface TransportReport {
  transport: TransportKind
  transportReason: string
  /** The forge's verdict on the commit's signature; undefined when not asked or unknown. */
  verified?: boolean
  verificationReason?: string
  /** --require-verified and the commit is not verified; the command then exits 1. */
  verificationFailure?: string
}

export function transportReport(r: {
  transport: TransportKind
  transportReason: string
  verification?: Verification
  verificationFailure?: string
}): TransportReport {
  return {
    transport: r.transport,
    transportReason: r.transportReason,
    ...(r.verification
      ? {verified: r.verification.verified, verificationReason: r.verification.reason}
      : {}),
    ...(r.verificationFailure ? {verificationFailure: r.verificationFailure} : {})
  }
}

const GITHUB_VERIFIED_FIX =
  "use the workflow's GITHUB_TOKEN (permissions: contents: write) or a GitHub App installation token (e.g. actions/create-github-app-token) in GITOPS_TOKEN: GitHub signs API commits made with those"

/**
 * Writes one edit through the transport the settings select: the forge's
 * commit API, or git clone + push. `auto` falls back to git when the API
 * turns out not to be usable before anything was written.
 */
export async function transportWrite<O extends PlanOutcome>(
  input: TransportWriteInput<O>
): Promise<TransportWriteResult<O>> {
  const {platform} = input
  const remote = parseRemoteUrl(input.repo, input.cwd ?? process.cwd())
  const decision = selectTransport({
    choice: input.transport.choice,
    repoUrl: remote.url,
    provider: input.provider,
    apiUrl: input.apiUrl,
    env: input.env
  })
  const requireVerified = input.transport.requireVerified
  let gitReason = decision.reason
  if (decision.kind === 'api') {
    platform.setSecret(decision.token)
    if (requireVerified && decision.target.kind === 'github') {
      const unsigned = unsignedGitHubTokenKind(decision.token)
      if (unsigned) {
        throw new UsageError(
          `--require-verified: GITOPS_TOKEN is ${unsigned}, and GitHub does not sign API commits made with it; ${GITHUB_VERIFIED_FIX}`
        )
      }
    }
    if (input.authorGiven && decision.target.kind === 'github') {
      platform.warning(
        "--author does not apply to API commits on GitHub: createCommitOnBranch has no author field, the token's identity authors the commit"
      )
    }
    platform.debug(`transport: api (${decision.reason})`)
    const log = {
      debug: (m: string) => platform.debug(m),
      warning: (m: string) => platform.warning(m)
    }
    const api = repoApiFor(decision, log, input.apiMsPerSecond)
    input.onApi?.(api)
    try {
      const result = await apiWrite({
        api,
        branch: input.branch,
        planner: input.apiPlanner,
        message: input.message,
        author: input.author,
        maxAttempts: input.maxAttempts,
        dryRun: input.dryRun,
        // GitHub says whether it signed for one request; GitLab only when asked (no UI-less signing is documented).
        checkVerification: requireVerified || decision.target.kind === 'github',
        log: m => platform.info(m),
        debug: m => platform.debug(m),
        backoff: input.backoff
      })
      const verification = result.kind === 'pushed' ? result.verification : undefined
      const out: TransportWriteResult<O> = {
        ...result,
        remote,
        transport: 'api',
        transportReason: decision.reason,
        ...(verification ? {verification} : {})
      }
      if (requireVerified && result.kind === 'pushed' && verification?.verified !== true) {
        out.verificationFailure =
          decision.target.kind === 'github'
            ? `commit ${result.commit} landed on ${result.branch} but GitHub did not verify it (reason: ${verification?.reason ?? 'unknown'}); branches that require signed commits will refuse it. ${capitalise(GITHUB_VERIFIED_FIX)}`
            : `commit ${result.commit} landed on ${result.branch} but GitLab reports no verified signature (${verification?.reason ?? 'unknown'}); GitLab documents instance-key signing for commits made in its UI, not for API commits — drop --require-verified or push signed commits yourself`
      }
      return out
    } catch (e) {
      if (!(e instanceof TransportUnavailable)) throw e
      if (input.transport.choice === 'api') {
        throw new UsageError(
          `--transport api cannot be used: ${e.message}; use --transport git or auto`
        )
      }
      gitReason = `auto: fell back to git because ${e.message}`
      platform.warning(`transport: falling back to git: ${e.message}`)
    }
  }
  if (requireVerified) {
    throw new UsageError(
      `--require-verified needs the API transport (${gitReason}): a git push from CI is never verified; pass --transport api with GITOPS_TOKEN set on GitHub, ${GITHUB_VERIFIED_FIX}`
    )
  }
  if (decision.kind === 'git') platform.debug(`transport: git (${gitReason})`)
  const result = await remoteWrite({
    repo: input.repo,
    branch: input.branch,
    planner: input.gitPlanner,
    message: input.message,
    author: input.author,
    maxAttempts: input.maxAttempts,
    dryRun: input.dryRun,
    env: input.env,
    redactor: platform.redactor,
    cwd: input.cwd,
    log: m => platform.info(m),
    debug: m => platform.debug(m),
    backoff: input.backoff
  })
  return {...result, transport: 'git', transportReason: gitReason}
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}
