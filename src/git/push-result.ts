/**
 * Pure classification of what git printed when a push, clone or fetch
 * failed. Retry decisions hang on this, so it is kept apart from process
 * handling and unit-tested against stderr captured from real servers
 * (git receive-pack, GitHub, GitLab, smart HTTP).
 */

/** Why a push was refused by the server or by git's own fast-forward check. */
export type RejectReason =
  /** The branch moved under us (someone else pushed first): fetch, re-apply, retry. */
  | 'moved'
  /** Branch protection or a repository rule: retrying cannot help. */
  | 'protected'
  /** A server-side hook said no (policy, size, secret scanning...). */
  | 'hook-declined'
  | 'other'

export type PushResult =
  | {kind: 'pushed'}
  /** The branch already pointed at this very commit (an identical concurrent push). */
  | {kind: 'up-to-date'}
  | {kind: 'rejected'; reason: RejectReason; detail: string}
  | {kind: 'auth-failed'; status?: 401 | 403; detail: string}
  | {kind: 'error'; reason: RemoteErrorReason; detail: string}

/**
 * `transient`: the server answered 5xx or the connection broke mid-transfer;
 * the same request may well succeed a moment later, so it is retried.
 * `network`: the server could not be reached at all (unknown host, refused);
 * far more often a wrong URL or a dead server than a blip, so it is not.
 * `redirected`: the server answered 3xx and, because a token was set, git
 * was told not to follow it (the token would go along to the new host).
 */
export type RemoteErrorReason = 'transient' | 'network' | 'not-found' | 'redirected' | 'unknown'

/** Worth trying again after a pause: the server or the link failed, not the request. */
export function isTransient(failure: RemoteFailure | PushResult): boolean {
  return failure.kind === 'error' && failure.reason === 'transient'
}

/** Why a clone, fetch or ls-remote failed. */
export type RemoteFailure =
  | {kind: 'auth-failed'; status?: 401 | 403; detail: string}
  | {kind: 'error'; reason: RemoteErrorReason; detail: string}

const PROTECTED = [
  /protected branch/i,
  /\bGH006\b/,
  /\bGH013\b/,
  /repository rule violations/i,
  /not allowed to push code to protected branches/i,
  /not allowed to force push code to a protected branch/i
]

const MOVED = [
  /\(fetch first\)/,
  /\(non-fast-forward\)/,
  /\(stale info\)/,
  /cannot lock ref/i,
  /incorrect old value provided/i,
  /\(failed to update ref\)/,
  /\(failed to lock\)/,
  // A force-push rewrote the branch between our fetch and our push: the same remedy, a new tip.
  /shallow update not allowed/i,
  /Updates were rejected because the (tip of your current branch is behind|remote contains work)/
]

const AUTH = [
  /Authentication failed for/i,
  /could not read (Username|Password) for/i,
  /HTTP Basic: Access denied/i,
  /Invalid username or (password|token)/i,
  /Permission to \S+ denied to/i,
  /Write access to repository not granted/i,
  /not allowed to push code to this project/i,
  /You are not allowed to (download|upload|push)/i,
  /requested URL returned error: 40[13]\b/i,
  /Permission denied \(publickey/i,
  /Host key verification failed/i
]

const NOT_FOUND = [
  /repository '[^']*' not found/i,
  /Repository not found/i,
  /does not appear to be a git repository/i,
  /requested URL returned error: 404\b/i,
  /Remote branch \S+ not found in upstream/i,
  /couldn't find remote ref/i,
  /The project you were looking for could not be found/i
]

// Checked before NETWORK: "RPC failed ... Couldn't connect" would otherwise look transient.
const NETWORK = [
  /Could not resolve host/i,
  /Connection refused/i,
  /Couldn't connect to server/i,
  /SSL certificate problem|server certificate verification failed/i
]

const TRANSIENT = [
  /requested URL returned error: 5\d\d\b/i,
  // Rate limited: a moment later the same request is served.
  /requested URL returned error: 429\b/i,
  /\bHTTP 5\d\d\b/,
  /RPC failed/i,
  /Connection reset/i,
  /Connection timed out/i,
  /Operation timed out/i,
  /Operation too slow/i,
  /Empty reply from server/i,
  /the remote end hung up unexpectedly/i,
  /unexpected disconnect while reading sideband/i,
  /early EOF/i,
  /transfer closed with/i,
  /remote failed to report status/i,
  /SSL_(read|write)|gnutls_handshake|TLS connection was non-properly terminated/i,
  /unable to access '[^']*': (Recv|Send) failure/i
]

/**
 * The server answered, then hung up on purpose: git prints "the remote end
 * hung up unexpectedly" after these too, which must not read as a blip.
 */
const REFUSED = [
  /no commits selected for shallow requests/i,
  /Server does not support (--shallow-exclude|--deepen|shallow)/i,
  /filtering not recognized by server/i
]

/** Unreachable for a reason not named above (no route...): not retried either. */
const UNREACHABLE = [/Failed to connect to/i, /No route to host/i, /Network is unreachable/i]

const anyOf = (patterns: RegExp[], text: string) => patterns.some(p => p.test(text))

function httpStatus(text: string): 401 | 403 | undefined {
  const m = /returned error: (40[13])\b/.exec(text)
  if (m) return m[1] === '401' ? 401 : 403
  if (/Authentication failed for|HTTP Basic: Access denied|Invalid username/i.test(text)) return 401
  if (
    /Permission to \S+ denied|Write access to repository not granted|not allowed to push/i.test(
      text
    )
  ) {
    return 403
  }
  return undefined
}

/**
 * The lines worth showing a human: what the server said and what git
 * concluded, without progress noise and the generic "hint:" paragraphs.
 */
export function pushDetail(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map(l => l.replace(/\s+$/, ''))
    .filter(l => l.trim() !== '')
    .filter(l => !/^hint:/.test(l) && !/^To /.test(l) && l !== 'Done')
    .filter(l => !/^(remote: )?(Counting|Compressing|Writing|Enumerating|Total|Resolving)/.test(l))
    .filter(l => !/^error: failed to push some refs/.test(l))
  const useful = lines.length > 0 ? lines : text.trim().split(/\r?\n/)
  return useful.slice(-6).join('\n').trim()
}

/**
 * Classifies a failed clone, fetch or ls-remote from its stderr. `timedOut`:
 * execGit's own timeout killed git, i.e. the server or the link stalled.
 */
export function classifyRemoteFailure(stderr: string, timedOut = false): RemoteFailure {
  const detail = pushDetail(stderr)
  if (timedOut) return {kind: 'error', reason: 'transient', detail}
  if (anyOf(AUTH, stderr)) return {kind: 'auth-failed', status: httpStatus(stderr), detail}
  if (anyOf(NOT_FOUND, stderr)) return {kind: 'error', reason: 'not-found', detail}
  if (/requested URL returned error: 30[12378]\b/i.test(stderr))
    return {kind: 'error', reason: 'redirected', detail}
  if (anyOf(NETWORK, stderr)) return {kind: 'error', reason: 'network', detail}
  if (anyOf(REFUSED, stderr)) return {kind: 'error', reason: 'unknown', detail}
  if (anyOf(TRANSIENT, stderr)) return {kind: 'error', reason: 'transient', detail}
  if (anyOf(UNREACHABLE, stderr)) return {kind: 'error', reason: 'network', detail}
  return {kind: 'error', reason: 'unknown', detail}
}

/**
 * Classifies `git push --porcelain` from its exit code, stdout (the
 * porcelain status lines) and stderr (what the remote said).
 */
export function classifyPush(output: {
  code: number
  stdout: string
  stderr: string
  timedOut?: boolean
}): PushResult {
  if (output.timedOut) {
    // Killed mid-push: the outcome is unknown, which the callers settle by asking the remote.
    return {kind: 'error', reason: 'transient', detail: pushDetail(output.stderr)}
  }
  const text = `${output.stdout}\n${output.stderr}`
  const refLines = output.stdout.split('\n').filter(l => l.startsWith('!\t'))
  if (output.code === 0 && refLines.length === 0) {
    return /^=\t/m.test(output.stdout) ? {kind: 'up-to-date'} : {kind: 'pushed'}
  }
  const detail = pushDetail(`${output.stderr}\n${refLines.join('\n')}`)
  // Protection first: GitLab's protected-branch message also contains "not allowed to push".
  if (anyOf(PROTECTED, text)) return {kind: 'rejected', reason: 'protected', detail}
  if (anyOf(MOVED, text)) return {kind: 'rejected', reason: 'moved', detail}
  if (anyOf(AUTH, text)) return {kind: 'auth-failed', status: httpStatus(text), detail}
  if (/hook declined/i.test(text)) return {kind: 'rejected', reason: 'hook-declined', detail}
  if (refLines.some(l => /\[(remote )?rejected\]/.test(l))) {
    return {kind: 'rejected', reason: 'other', detail}
  }
  const failure = classifyRemoteFailure(output.stderr)
  if (failure.kind === 'auth-failed') return failure
  return {kind: 'error', reason: failure.reason, detail}
}
