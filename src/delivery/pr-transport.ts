import type {Env} from '../platform/inputs.js'
import {authFromEnv, TOKEN_VARIABLE} from '../git/auth.js'
import {parseRemoteUrl} from '../git/remote-url.js'
import type {Platform} from '../platform/port.js'
import {openTransport, verificationFailureText} from './push.js'
import type {TransportSettings} from './choose-transport.js'
import type {Forge} from '../forge/forge.js'
import {forgeProvider} from '../forge/registry.js'
import type {PrApiTransport, PrLifecycleInput} from './pull-request.js'
import {resolveForge} from '../forge/provider.js'

export interface ForgeTarget {
  /** --repo: the config repository's URL. */
  repo: string
  provider?: string
  apiUrl?: string
  /** Holds the token (checked by the settings before anything runs). */
  env: Env
}

export interface OpenForge {
  forge: Forge
  /** The repository URL git pushes the PR branch to. */
  repoUrl: string
  /** Git config that authenticates that push (never argv or a URL). */
  gitConfig: Record<string, string>
}

/** The forge API client and git auth for --mode pr; the token is masked before first use. */
export function openForge(target: ForgeTarget, platform: Platform): OpenForge {
  const token = target.env[TOKEN_VARIABLE]!.trim()
  platform.setSecret(token)
  const remote = parseRemoteUrl(target.repo, process.cwd())
  const auth = authFromEnv(remote, target.env, platform.redactor)
  const resolved = resolveForge({
    repoUrl: remote.url,
    provider: target.provider,
    apiUrl: target.apiUrl,
    env: target.env
  })
  const log = {debug: (m: string) => platform.debug(m), warning: (m: string) => platform.warning(m)}
  const forge: Forge = forgeProvider(resolved.kind).pulls(resolved, token, log)
  return {forge, repoUrl: remote.url, gitConfig: auth.config}
}

export interface PrTransportTarget {
  transport: TransportSettings
  provider?: string
  apiUrl?: string
  env: Env
  /** --author given explicitly (GitHub API commits cannot honour it). */
  authorGiven: boolean
}

/**
 * How --mode pr commits the branch: the lifecycle's API transport (with the
 * command's edit planned on the base tip) or the reason git does it. Same
 * rule as push mode; `preferGit` keeps `auto` on git for a reason of the
 * command's own (promote's rendered diff needs a checkout).
 */
export function prTransport(
  target: PrTransportTarget,
  repoUrl: string,
  platform: Platform,
  plan: PrApiTransport['plan'],
  preferGit?: string
): Pick<PrLifecycleInput, 'api' | 'gitReason'> {
  const opened = openTransport({...target, repoUrl, platform, preferGit})
  if (opened.kind === 'git') return {gitReason: opened.reason}
  const {requireVerified} = target.transport
  return {
    api: {
      api: opened.api,
      reason: opened.reason,
      explicit: opened.explicit,
      requireVerified,
      // GitHub says whether it signed for one request; GitLab only when asked.
      checkVerification:
        requireVerified || forgeProvider(opened.provider).capabilities.cheapVerification,
      verificationFailure: (commit, branch, v) =>
        verificationFailureText(opened.provider, commit, branch, v),
      onFallback: reason => platform.warning(`transport: falling back to git: ${reason}`),
      plan
    }
  }
}
