import type {Env} from '../platform/inputs.js'
import {UsageError, errorMessage} from '../core/errors.js'
import type {ForgeLogSink as ForgeLog} from '../forge/forge-provider.js'
import {forgeProvider} from '../forge/registry.js'
import {resolveForge, type ForgeTarget} from '../forge/provider.js'
import {TOKEN_VARIABLE} from '../git/auth.js'
import type {OptionSpec, OutputSpec} from '../platform/inputs.js'
import {
  TRANSPORT_CHOICES,
  type BranchApi,
  type TransportChoice,
  type TransportKind
} from '../forge/repo-api.js'

/** Shared by set-image and promote; no `default:` (action inputs are shared between commands). */
export const TRANSPORT_OPTIONS: OptionSpec[] = [
  {
    name: 'transport',
    type: 'string',
    description:
      'how the commit reaches the config repo: git (clone + push), api (GitHub createCommitOnBranch / GitLab commits API: verified commits on GitHub with GITHUB_TOKEN or an App token), auto (default: api for GitHub/GitLab with GITOPS_TOKEN set, else git)',
    choices: TRANSPORT_CHOICES,
    gitlab: {
      section: 'commit',
      default: 'auto',
      description:
        'How the commit reaches the config repo. api uses the GitLab commits API (per-file conflict detection, no clone); git clones and pushes; auto picks api when the token is set.'
    }
  },
  {
    name: 'require-verified',
    type: 'boolean',
    description:
      'fail unless the commit is verified (signed) by the forge; with a GitHub PAT the API commit is unsigned, use GITHUB_TOKEN or a GitHub App token',
    gitlab: {
      section: 'commit',
      description:
        'Fail unless GitLab reports the commit as verified (signed); GitLab does not document signing for API commits.'
    }
  }
]

export const TRANSPORT_OUTPUTS: OutputSpec[] = [
  {name: 'transport', description: "with --repo: the commit transport used, 'git' or 'api'"},
  {
    name: 'verified',
    description:
      "with --repo: 'true'/'false' when the forge reported the commit's signature, else ''"
  }
]

export interface TransportSettings {
  choice: TransportChoice
  requireVerified: boolean
}

export function readTransport(input: {
  string(name: string): string | undefined
  boolean(name: string): boolean | undefined
}): TransportSettings {
  const raw = input.string('transport')?.trim() || 'auto'
  if (!(TRANSPORT_CHOICES as readonly string[]).includes(raw)) {
    throw new UsageError(
      `--transport '${raw}' is not known; use git (clone and push), api (the forge's commit API) or auto`
    )
  }
  return {
    choice: raw as TransportChoice,
    requireVerified: input.boolean('require-verified') === true
  }
}

export type TransportDecision =
  {kind: 'git'; reason: string} | {kind: 'api'; reason: string; target: ForgeTarget; token: string}

/**
 * `auto`: the API when the repository is on GitHub or GitLab and a token is
 * there to call it with, else git. An explicit `api` that cannot work is a
 * usage error (exit 2) naming what is missing.
 */
export function selectTransport(input: {
  choice: TransportChoice
  repoUrl: string
  provider?: string
  apiUrl?: string
  env: Env
}): TransportDecision {
  if (input.choice === 'git') return {kind: 'git', reason: '--transport git'}
  const explicit = input.choice === 'api'
  let target: ForgeTarget
  try {
    target = resolveForge({
      repoUrl: input.repoUrl,
      provider: input.provider,
      apiUrl: input.apiUrl,
      env: input.env
    })
  } catch (e) {
    if (explicit) {
      throw new UsageError(
        `--transport api needs a GitHub or GitLab repository: ${errorMessage(e)}`
      )
    }
    return {kind: 'git', reason: `auto: not a known GitHub/GitLab host (${errorMessage(e)})`}
  }
  const token = input.env[TOKEN_VARIABLE]?.trim()
  if (!token) {
    if (explicit) {
      throw new UsageError(
        `--transport api needs an API token in ${TOKEN_VARIABLE}: GitHub contents:write (GITHUB_TOKEN or a GitHub App token for verified commits), GitLab api scope`
      )
    }
    return {kind: 'git', reason: `auto: no API token in ${TOKEN_VARIABLE}`}
  }
  const name = forgeProvider(target.kind).name
  return {
    kind: 'api',
    reason: `${explicit ? '--transport api' : 'auto'}: ${name} API at ${target.apiUrl} with the token in ${TOKEN_VARIABLE}`,
    target,
    token
  }
}

/** The commit API client of the chosen forge. */
export function repoApiFor(
  decision: Extract<TransportDecision, {kind: 'api'}>,
  log: ForgeLog,
  /** GitHub pacing/retry-after unit; tests and benchmarks shrink it. */
  msPerSecond?: number
): BranchApi {
  return forgeProvider(decision.target.kind).commits(
    decision.target,
    decision.token,
    log,
    msPerSecond
  )
}

export function describeTransport(kind: TransportKind, reason: string): string {
  return `transport: ${kind} (${reason})`
}
