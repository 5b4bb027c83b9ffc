import type {Env} from '../commands/types.js'
import {authFromEnv, TOKEN_VARIABLE} from '../git/auth.js'
import {parseRemoteUrl} from '../git/remote-url.js'
import type {Platform} from '../platform/port.js'
import type {Forge} from './forge.js'
import {GitHubForge} from './github.js'
import {GitLabForge} from './gitlab.js'
import {resolveForge} from './provider.js'

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
  const options = {apiUrl: resolved.apiUrl, repoPath: resolved.repoPath, token, log}
  const forge: Forge =
    resolved.kind === 'github' ? new GitHubForge(options) : new GitLabForge(options)
  return {forge, repoUrl: remote.url, gitConfig: auth.config}
}
