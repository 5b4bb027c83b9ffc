import {isAbsolute, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'
import {UsageError} from '../core/errors.js'

export type Transport = 'http' | 'ssh' | 'file' | 'git'

export interface RemoteUrl {
  /** What git is given: plain paths become file:// URLs so `--depth` is honoured. */
  url: string
  transport: Transport
  /** scheme://host[:port]/ for http(s): the scope of the auth header. */
  origin?: string
  /** Browser URL of the repository, when it can be derived (links in summaries). */
  webUrl?: string
}

const SCP_LIKE = /^(?:[^@/]+@)?([^:/]+):(?!\/\/)(.+)$/

/**
 * Normalises `--repo`. A password or token inside the URL would end up in
 * `.git/config`, process listings and error messages, so it is refused with
 * the fix instead of being used.
 */
export function parseRemoteUrl(input: string, cwd: string): RemoteUrl {
  const raw = input.trim()
  if (!raw) throw new UsageError('--repo is empty; pass the config repo URL or path')
  if (/^https?:\/\//i.test(raw)) {
    let u: URL
    try {
      u = new URL(raw)
    } catch {
      throw new UsageError(
        `--repo '${raw}' is not a valid URL; pass e.g. https://github.com/org/config`
      )
    }
    if (u.password) {
      throw new UsageError(
        '--repo contains a password or token; remove it from the URL and set GITOPS_TOKEN instead (the action maps its `token` input to it)'
      )
    }
    const path = u.pathname.replace(/\/+$/, '').replace(/\.git$/, '')
    return {
      url: raw,
      transport: 'http',
      origin: `${u.protocol}//${u.host}/`,
      webUrl: `${u.protocol === 'http:' ? 'http' : 'https'}://${u.host}${path}`
    }
  }
  if (/^(ssh|git\+ssh|ssh\+git):\/\//i.test(raw)) {
    const u = new URL(raw.replace(/^(git\+ssh|ssh\+git):/i, 'ssh:'))
    return {url: raw, transport: 'ssh', webUrl: webFrom(u.hostname, u.pathname)}
  }
  if (/^git:\/\//i.test(raw)) return {url: raw, transport: 'git'}
  if (/^file:\/\//i.test(raw)) return {url: raw, transport: 'file'}
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    throw new UsageError(
      `--repo '${raw}' uses an unsupported scheme; use https://, ssh://, git@host:path, file:// or a local path`
    )
  }
  const scp = SCP_LIKE.exec(raw)
  if (scp && !isAbsolute(raw) && !raw.startsWith('.')) {
    return {url: raw, transport: 'ssh', webUrl: webFrom(scp[1], `/${scp[2]}`)}
  }
  return {url: pathToFileURL(resolve(cwd, raw)).href, transport: 'file'}
}

function webFrom(host: string, path: string): string | undefined {
  const clean = path.replace(/\/+$/, '').replace(/\.git$/, '')
  if (!host || !clean || clean === '/') return undefined
  return `https://${host}${clean.startsWith('/') ? '' : '/'}${clean}`
}

/** The URL as it may be shown to users: never with credentials. */
export function displayUrl(remote: RemoteUrl): string {
  if (remote.transport !== 'http') return remote.url
  const u = new URL(remote.url)
  u.username = ''
  u.password = ''
  return u.href
}
