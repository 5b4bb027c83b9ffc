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
  refuseCredentials(raw)
  const shown = withoutUserinfo(raw)
  if (/^https?:\/\//i.test(raw)) {
    let u: URL
    try {
      u = new URL(raw)
    } catch {
      throw new UsageError(
        `--repo '${shown}' is not a valid URL; pass e.g. https://github.com/org/config`
      )
    }
    if (u.password || u.username) {
      // Checked again on the parsed URL: WHATWG parsing can find userinfo the pattern did not.
      throw new UsageError(CREDENTIALS_IN_URL)
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
      `--repo '${shown}' uses an unsupported scheme; use https://, ssh://, git@host:path, file:// or a local path`
    )
  }
  const scp = SCP_LIKE.exec(raw)
  if (scp && !isAbsolute(raw) && !raw.startsWith('.')) {
    return {url: raw, transport: 'ssh', webUrl: webFrom(scp[1], `/${scp[2]}`)}
  }
  return {url: pathToFileURL(resolve(cwd, raw)).href, transport: 'file'}
}

const CREDENTIALS_IN_URL =
  '--repo contains a password or token; remove it from the URL and set GITOPS_TOKEN instead (the action maps its `token` input to it; GITOPS_TOKEN_USER sets the user name)'

/**
 * Refuses a secret in the userinfo of any spelling of a URL, valid or not:
 * `user:secret@` after any scheme-like prefix (`htps://`, `https//`,
 * `https:/`, `ssh://`, `git://`) or in scp-like `user:secret@host:path`, and
 * any user name at all in http(s) URLs, where a token is often pasted as the
 * user (`https://TOKEN@host/...`). Runs before anything else sees the value,
 * so the secret reaches no error line, argv or `.git/config`.
 */
function refuseCredentials(raw: string): void {
  if (SCP_SECRET.test(raw)) throw new UsageError(CREDENTIALS_IN_URL)
  const m = USERINFO.exec(raw)
  if (!m) return
  const [, scheme, userinfo] = m
  // http, https and their typos (htps://, https//, https:/): a user name there is a pasted token.
  const web = /^h[a-z]*[:/]/i.test(scheme ?? '')
  if (userinfo.includes(':') || web) throw new UsageError(CREDENTIALS_IN_URL)
}

// scp-like `user:secret@host:path`: a ':' before the first '@' with no '/' in between.
const SCP_SECRET = /^[^@/\s:]+:[^@/\s]*@/

// An optional scheme-ish prefix, then userinfo up to the first '@' before any '/'.
const USERINFO =
  /^([A-Za-z][A-Za-z0-9+.-]*:?\/{0,3}|[A-Za-z][A-Za-z0-9+.-]*\/{1,3})?([^@/\s]+)@[^@\s]*$/

/**
 * `value` with the userinfo of anything URL-like replaced by `***`, for
 * messages: it may hold a token even when the value was refused for
 * another reason.
 */
export function withoutUserinfo(value: string): string {
  return value.replace(
    /^([A-Za-z][A-Za-z0-9+.-]*:?\/{0,3}|[A-Za-z][A-Za-z0-9+.-]*\/{1,3})?[^@/\s]+@/,
    (_, p: string | undefined) => `${p ?? ''}***@`
  )
}

function webFrom(host: string, path: string): string | undefined {
  const clean = path.replace(/\/+$/, '').replace(/\.git$/, '')
  if (!host || !clean || clean === '/') return undefined
  return `https://${host}${clean.startsWith('/') ? '' : '/'}${clean}`
}

/** The URL as it may be shown to users: never with credentials. */
export function displayUrl(remote: RemoteUrl): string {
  if (remote.transport === 'http') {
    const u = new URL(remote.url)
    u.username = ''
    u.password = ''
    return u.href
  }
  // An SSH user name (git@) is no secret; anything after a ':' in userinfo would be.
  return remote.url.replace(/^([a-z+]+:\/\/)?([^@/:]+):[^@/]*@/i, '$1$2:***@')
}
