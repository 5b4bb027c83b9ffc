import {UsageError} from '../core/errors.js'
import type {Redactor} from '../core/redact.js'
import type {RemoteUrl} from './remote-url.js'
import type {Env} from '../platform/inputs.js'

export const TOKEN_VARIABLE = 'GITOPS_TOKEN'
export const TOKEN_USER_VARIABLE = 'GITOPS_TOKEN_USER'
/** What GitHub App installation tokens and PATs accept; GitLab accepts any non-empty user. */
export const DEFAULT_TOKEN_USER = 'x-access-token'

export interface GitAuth {
  /**
   * Config handed to every git child through GIT_CONFIG_COUNT: never argv
   * (visible in `ps`), never the URL or `.git/config` (persisted, echoed in
   * errors).
   */
  config: Record<string, string>
  /** How the remote authenticates, for error messages. */
  method: 'token' | 'ssh' | 'none'
  /** The variable that held the token, named in errors (its value never is). */
  variable?: string
  user?: string
}

/**
 * Builds git auth for `remote` from the environment. Over HTTP(S) a token
 * becomes an `Authorization: Basic` extra header scoped to the remote's
 * origin, so it is not sent to any other host (redirects, submodules).
 * The user:token pair and its base64 form are registered with the redactor
 * before git ever runs.
 */
export function authFromEnv(remote: RemoteUrl, env: Env, redactor: Redactor): GitAuth {
  if (remote.transport === 'ssh') return {config: {}, method: 'ssh'}
  const token = env[TOKEN_VARIABLE]?.trim()
  if (remote.transport !== 'http' || !token || !remote.origin) return {config: {}, method: 'none'}
  const url = new URL(remote.url)
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    // Anyone on the path would read it: plain http is for a test server on this machine only.
    throw new UsageError(
      `refusing to send the token in ${TOKEN_VARIABLE} over plain http:// to ${url.host}; use the https:// URL of the config repo`
    )
  }
  const user = env[TOKEN_USER_VARIABLE]?.trim() || DEFAULT_TOKEN_USER
  redactor.addBasic(user, token)
  const basic = Buffer.from(`${user}:${token}`).toString('base64')
  return {
    config: {
      [`http.${remote.origin}.extraHeader`]: `Authorization: Basic ${basic}`,
      // An empty value resets the helper list: a stored credential must not
      // override the token, and the token must not be stored by a helper.
      'credential.helper': '',
      // git sends the header to whatever base URL a redirect names, other hosts included, for
      // every later request of the run: with a token, a redirect is an error, never followed.
      'http.followRedirects': 'false'
    },
    method: 'token',
    variable: TOKEN_VARIABLE,
    user
  }
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h)
}

/**
 * The error for a refused login, naming what to fix. `status` 403 means the
 * credential was accepted but lacks rights, 401 that it was rejected.
 */
export function authFailureMessage(
  auth: GitAuth,
  host: string,
  operation: 'read' | 'push',
  status?: 401 | 403
): string {
  const scope =
    'it needs write access to the repository contents: GitHub `contents: write` (fine-grained token or GitHub App) or `repo` (classic PAT); GitLab `write_repository` with role Developer or higher, and push rights on the branch'
  if (auth.method === 'token') {
    const what =
      status === 403
        ? `was accepted by ${host} but is not allowed to ${operation === 'push' ? 'push to' : 'read'} this repository`
        : `was rejected by ${host} (wrong, expired or revoked)`
    return `authentication failed: the token in ${auth.variable} (user '${auth.user}', set ${TOKEN_USER_VARIABLE} to change it) ${what}; ${scope}`
  }
  if (auth.method === 'ssh') {
    return `SSH authentication to ${host} failed; load a key with push access into ssh-agent or set GIT_SSH_COMMAND (e.g. "ssh -i ~/.ssh/deploy_key -o IdentitiesOnly=yes"), and make sure the host key is in known_hosts`
  }
  return `${host} requires authentication and no token was given; set ${TOKEN_VARIABLE} (the action's \`token\` input) - ${scope}`
}
