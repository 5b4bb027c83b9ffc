import type {Env} from '../platform/inputs.js'
import {UsageError} from '../core/errors.js'
import type {Backoff} from '../core/backoff.js'
import type {Identity} from '../git/git.js'
import {parseRemoteUrl} from '../git/remote-url.js'
import {remoteWrite, type RemoteWriteResult} from './push-git.js'
import type {ApiPlanner, PlanOutcome, Planner} from '../edits/edit.js'
import type {Platform} from '../platform/port.js'
import {apiWrite} from './push-api.js'
import type {ProviderKind} from '../forge/provider.js'
import {forgeProvider} from '../forge/registry.js'
import {GITHUB_VERIFIED_FIX} from '../forge/github/index.js'
import {
  repoApiFor,
  selectTransport,
  type TransportDecision,
  type TransportSettings
} from './choose-transport.js'
import {
  TransportUnavailable,
  type BranchApi,
  type RepoApi,
  type TransportKind,
  type Verification
} from '../forge/repo-api.js'

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

export type OpenedTransport =
  | {kind: 'git'; reason: string}
  | {kind: 'api'; reason: string; api: BranchApi; provider: ProviderKind; explicit: boolean}

export interface OpenTransportInput {
  transport: TransportSettings
  /** The config repo's URL (parsed). */
  repoUrl: string
  provider?: string
  apiUrl?: string
  env: Env
  platform: Platform
  /** --author was given explicitly (GitHub API commits cannot honour it). */
  authorGiven: boolean
  /** `auto` stays with git for this reason unless --require-verified asks for the API. */
  preferGit?: string
  /** GitHub's pacing unit (ms per second of recommended wait); tests shrink it. */
  apiMsPerSecond?: number
  /** Tests and the benchmark read the request count of the API client. */
  onApi?: (api: RepoApi) => void
}

/**
 * Picks the transport and, for the API, opens the client: the token is
 * masked, a GitHub token that can never give a verified commit is refused
 * under --require-verified before anything is read, and --require-verified
 * without the API is a usage error.
 */
export function openTransport(input: OpenTransportInput): OpenedTransport {
  const {platform} = input
  const requireVerified = input.transport.requireVerified
  const decision: TransportDecision =
    input.preferGit && input.transport.choice === 'auto' && !requireVerified
      ? {kind: 'git', reason: `auto: ${input.preferGit}`}
      : selectTransport({
          choice: input.transport.choice,
          repoUrl: input.repoUrl,
          provider: input.provider,
          apiUrl: input.apiUrl,
          env: input.env
        })
  if (decision.kind === 'git') {
    if (requireVerified) throw requireVerifiedNeedsApi(decision.reason)
    platform.debug(`transport: git (${decision.reason})`)
    return decision
  }
  platform.setSecret(decision.token)
  const forge = forgeProvider(decision.target.kind)
  const unsigned = requireVerified ? forge.unsignedTokenKind(decision.token) : undefined
  if (unsigned) {
    throw new UsageError(
      `--require-verified: GITOPS_TOKEN is ${unsigned}, and ${forge.name} does not sign API commits made with it; ${GITHUB_VERIFIED_FIX}`
    )
  }
  if (input.authorGiven && !forge.capabilities.apiCommitAuthor) {
    platform.warning(
      `--author does not apply to API commits on ${forge.name}: createCommitOnBranch has no author field, the token's identity authors the commit`
    )
  }
  platform.debug(`transport: api (${decision.reason})`)
  const log = {
    debug: (m: string) => platform.debug(m),
    warning: (m: string) => platform.warning(m)
  }
  const api = repoApiFor(decision, log, input.apiMsPerSecond)
  input.onApi?.(api)
  return {
    kind: 'api',
    reason: decision.reason,
    api,
    provider: decision.target.kind,
    explicit: input.transport.choice === 'api'
  }
}

/** --require-verified when the commit goes through git. */
export function requireVerifiedNeedsApi(gitReason: string): UsageError {
  return new UsageError(
    `--require-verified needs the API transport (${gitReason}): a git push from CI is never verified; pass --transport api with GITOPS_TOKEN set on GitHub, ${GITHUB_VERIFIED_FIX}`
  )
}

/** --transport api and the forge turned out not to offer what the API transport needs. */
export function apiUnusable(e: TransportUnavailable): UsageError {
  return new UsageError(`--transport api cannot be used: ${e.message}; use --transport git or auto`)
}

/** Why a landed commit fails --require-verified, with the fix. */
export function verificationFailureText(
  provider: ProviderKind,
  commit: string,
  branch: string,
  verification: Verification | undefined
): string {
  return forgeProvider(provider).verificationAdvice(commit, branch, verification)
}

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
  const opened = openTransport({...input, repoUrl: remote.url})
  const requireVerified = input.transport.requireVerified
  let gitReason = opened.reason
  if (opened.kind === 'api') {
    const {api} = opened
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
        checkVerification:
          requireVerified || forgeProvider(opened.provider).capabilities.cheapVerification,
        log: m => platform.info(m),
        debug: m => platform.debug(m),
        backoff: input.backoff
      })
      const verification = result.kind === 'pushed' ? result.verification : undefined
      const out: TransportWriteResult<O> = {
        ...result,
        remote,
        transport: 'api',
        transportReason: opened.reason,
        ...(verification ? {verification} : {})
      }
      if (requireVerified && result.kind === 'pushed' && verification?.verified !== true) {
        out.verificationFailure = verificationFailureText(
          opened.provider,
          result.commit,
          result.branch,
          verification
        )
      }
      return out
    } catch (e) {
      if (!(e instanceof TransportUnavailable)) throw e
      if (opened.explicit) throw apiUnusable(e)
      gitReason = `auto: fell back to git because ${e.message}`
      platform.warning(`transport: falling back to git: ${e.message}`)
    }
    if (requireVerified) throw requireVerifiedNeedsApi(gitReason)
  }
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
