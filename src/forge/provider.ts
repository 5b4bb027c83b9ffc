import {UsageError} from '../core/errors.js'
import type {Env} from '../platform/inputs.js'

export type ProviderKind = 'github' | 'gitlab'

/** Where the pull/merge request API lives and which repository it is about. */
export interface ForgeTarget {
  kind: ProviderKind
  /** REST base without a trailing slash: `https://api.github.com`, `https://host/api/v3`, `https://host/api/v4`. */
  apiUrl: string
  /** Web base of the forge (for links in the PR body): `https://github.com`, `https://gitlab.example.com`. */
  webUrl: string
  /** GitHub `owner/repo`; GitLab full project path `group/sub/project`. */
  repoPath: string
}

export interface RepoUrlParts {
  protocol: 'https' | 'http' | 'ssh' | 'file'
  host: string
  /** Path segments without `.git`, e.g. ['acme', 'config']. */
  segments: string[]
}

/** Accepts `https://host/owner/repo(.git)`, `ssh://git@host/owner/repo`, `git@host:owner/repo` and `file:///path`. */
export function parseRepoUrl(url: string): RepoUrlParts {
  const scp = /^[\w.-]+@([\w.-]+):(?!\/)(.+)$/.exec(url)
  if (scp) return {protocol: 'ssh', host: scp[1].toLowerCase(), segments: pathSegments(scp[2])}
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new UsageError(
      `repository '${url}' is not a URL; pass e.g. https://github.com/acme/config.git`
    )
  }
  const protocol = u.protocol.replace(/:$/, '')
  if (protocol !== 'https' && protocol !== 'http' && protocol !== 'ssh' && protocol !== 'file') {
    throw new UsageError(
      `repository URL scheme '${protocol}:' is not supported; use https://, ssh:// or file://`
    )
  }
  // The port stays part of the host: a self-managed forge on :8443 has its API there too.
  return {
    protocol,
    host: u.host.toLowerCase(),
    segments: pathSegments(decodeURIComponent(u.pathname))
  }
}

function pathSegments(path: string): string[] {
  return path
    .replace(/\.git\/?$/, '')
    .split('/')
    .filter(s => s !== '')
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined
  try {
    return new URL(url).host.toLowerCase()
  } catch {
    return undefined
  }
}

export interface ResolveForgeInput {
  repoUrl: string
  provider?: string
  apiUrl?: string
  env: Env
}

/**
 * Works out the forge from what CI already knows. The repo host decides the
 * provider unless `--provider` says otherwise; the API base comes from
 * `--api-url`, then the CI variables of the same host, then the host's
 * well-known layout (GHES `/api/v3`, GitLab `/api/v4`).
 */
export function resolveForge(input: ResolveForgeInput): ForgeTarget {
  const {env} = input
  const parts = parseRepoUrl(input.repoUrl)
  const kind = detectKind(parts, input.provider, env)
  const repoPath = repoPathOf(parts, kind, input.repoUrl)
  const explicit = input.apiUrl?.replace(/\/+$/, '')
  if (explicit !== undefined && !/^https?:\/\//.test(explicit)) {
    throw new UsageError(
      `--api-url '${input.apiUrl}' is not an http(s) URL; pass e.g. https://github.example.com/api/v3`
    )
  }
  if (kind === 'github') {
    const sameHost = parts.protocol === 'file' || hostOf(env.GITHUB_SERVER_URL) === parts.host
    const fromEnv = sameHost ? env.GITHUB_API_URL : undefined
    const apiUrl =
      explicit ??
      fromEnv?.replace(/\/+$/, '') ??
      (parts.host === 'github.com' ? 'https://api.github.com' : `https://${parts.host}/api/v3`)
    const webUrl =
      parts.protocol === 'file'
        ? (env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/+$/, '')
        : `https://${parts.host}`
    return {kind, apiUrl, webUrl, repoPath}
  }
  const ciHost = hostOf(env.CI_SERVER_URL) ?? env.CI_SERVER_HOST?.toLowerCase()
  const sameHost = parts.protocol === 'file' || ciHost === parts.host
  const fromEnv = sameHost ? env.CI_API_V4_URL : undefined
  const apiUrl = explicit ?? fromEnv?.replace(/\/+$/, '') ?? `https://${parts.host}/api/v4`
  const webUrl =
    parts.protocol === 'file'
      ? (env.CI_SERVER_URL ?? 'https://gitlab.com').replace(/\/+$/, '')
      : `https://${parts.host}`
  return {kind, apiUrl, webUrl, repoPath}
}

function detectKind(parts: RepoUrlParts, provider: string | undefined, env: Env): ProviderKind {
  if (provider !== undefined && provider !== '') {
    if (provider === 'github' || provider === 'gitlab') return provider
    throw new UsageError(`--provider '${provider}' is not known; use github or gitlab`)
  }
  const host = parts.host
  if (host === 'github.com' || (host && host === hostOf(env.GITHUB_SERVER_URL))) return 'github'
  if (
    host === 'gitlab.com' ||
    (host && (host === hostOf(env.CI_SERVER_URL) || host === env.CI_SERVER_HOST?.toLowerCase()))
  ) {
    return 'gitlab'
  }
  // Self-managed instances are very often named after the product.
  if (/(^|[.-])gitlab([.-]|$)/.test(host)) return 'gitlab'
  if (/(^|[.-])github([.-]|$)/.test(host)) return 'github'
  throw new UsageError(
    `cannot tell whether '${host || parts.protocol + '://'}' is GitHub or GitLab; pass --provider github or --provider gitlab`
  )
}

function repoPathOf(parts: RepoUrlParts, kind: ProviderKind, url: string): string {
  const segs = parts.segments
  // file:// remotes carry a filesystem path; the project is its last two parts.
  const usable = parts.protocol === 'file' ? segs.slice(-2) : segs
  if (kind === 'github') {
    if (usable.length !== 2) {
      throw new UsageError(
        `cannot read owner/repo from '${url}'; a GitHub repository URL looks like https://github.com/<owner>/<repo>.git`
      )
    }
    return usable.join('/')
  }
  if (usable.length < 2) {
    throw new UsageError(
      `cannot read the project path from '${url}'; a GitLab repository URL looks like https://gitlab.com/<group>/<project>.git`
    )
  }
  return usable.join('/')
}
