/**
 * The PR branch's git plumbing: ls-remote tips, the shallow fetches the
 * foreign-commit check needs, and the force-with-lease push with its "did it
 * land?" re-check, each retried on transient failures. It knows branches and
 * leases, not pull requests (delivery/pull-request.ts sequences it).
 */
import {backoffDelay, pause, type Backoff} from '../core/backoff.js'
import {OperationError, errorMessage} from '../core/errors.js'
import type {Redactor} from '../core/redact.js'
import {execGit, GitError, type GitExecOptions, type GitOutput} from './exec.js'
import {HARDENED_CONFIG} from './git.js'
import {classifyPush, classifyRemoteFailure, isTransient} from './push-result.js'

/** The branch moved between our read and our push: re-plan on the new tips. */
export class LeaseLost extends Error {}

/** A git read kept failing transiently through the whole budget; never worth a fall-back. */
export class ServerFailing extends OperationError {}

/** What the git reads and the push need to retry transient failures. */
export interface RemoteRetry {
  url: string
  attempts: number
  backoff: Backoff
  log: {info(message: string): void}
  /** Closing advice when the server keeps failing. */
  fix: string
}

export type PrGit = (args: string[], extra?: Partial<GitExecOptions>) => Promise<string>

/**
 * git in the PR checkout `dir`, on the same hardened config as every other
 * clone (git.ts HARDENED_CONFIG: no hooks, no autocrlf, no signing, no
 * background maintenance): a user's global config must not change what the
 * PR branch carries or run their hooks. `gitConfig` (the auth header) goes
 * through GIT_CONFIG_* like everywhere, never argv.
 */
export function prBranchGit(
  dir: string,
  options: {gitConfig?: Record<string, string>; redactor?: Redactor; timeoutMs?: number}
): PrGit {
  return async (args, extra) => {
    const out = await execGit(args, {
      cwd: dir,
      config: {...HARDENED_CONFIG, ...options.gitConfig, ...extra?.config},
      redactor: options.redactor,
      timeoutMs: options.timeoutMs ?? 120_000,
      ...(extra?.input !== undefined ? {input: extra.input} : {}),
      ...(extra?.allowFailure ? {allowFailure: true} : {}),
      ...(extra?.env ? {env: extra.env} : {})
    })
    return out.stdout
  }
}

/**
 * Runs a git read (ls-remote, fetch) again while it fails transiently (5xx,
 * dropped connection, our own timeout), with the push path's jittered
 * backoff and up to the lifecycle's attempts. Other failures go through as
 * they are; a budget used up becomes a ServerFailing naming cause and fix.
 */
export async function remoteRead(git: PrGit, retry: RemoteRetry, what: string, args: string[]) {
  for (let tries = 1; ; tries++) {
    const started = Date.now()
    try {
      return await git(args)
    } catch (e) {
      if (!(e instanceof GitError)) throw e
      const failure = classifyRemoteFailure(e.output.stderr, e.timedOut)
      if (!isTransient(failure)) throw e
      if (tries >= retry.attempts) {
        throw new ServerFailing(
          `could not ${what} from ${retry.url}: the server kept failing after ${plural(tries, 'attempt')} (${oneLine(failure.detail)}); nothing was pushed and no pull request was created or changed. ${retry.fix}`
        )
      }
      const delay = backoffDelay(tries, retry.backoff, Date.now() - started)
      retry.log.info(
        `${what} failed (${oneLine(failure.detail)}); attempt ${tries + 1} of ${retry.attempts} in ${delay} ms`
      )
      await pause(retry.backoff, delay)
    }
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function oneLine(text: string): string {
  return text.split('\n').filter(Boolean).slice(-2).join(' | ')
}

export async function remoteTips(
  git: PrGit,
  retry: RemoteRetry,
  branches: string[]
): Promise<Map<string, string>> {
  const out = await remoteRead(git, retry, `look up ${branches.join(' and ')}`, [
    'ls-remote',
    '--',
    retry.url,
    ...branches.map(b => `refs/heads/${b}`)
  ])
  const tips = new Map<string, string>()
  for (const line of out.split('\n')) {
    const [sha, ref] = line.split('\t')
    if (sha && ref?.startsWith('refs/heads/')) tips.set(ref.slice('refs/heads/'.length), sha)
  }
  return tips
}

export async function fetchTips(
  git: PrGit,
  retry: RemoteRetry,
  base: string,
  branch: string | undefined
): Promise<void> {
  // Re-initialising an existing repository is harmless, so retries need no special case.
  await git(['init', '-q'])
  const baseSpec = `+refs/heads/${base}:refs/remotes/origin/${base}`
  const fetch = ['fetch', '-q', '--no-tags', '--filter=blob:none']
  // The edit needs the base tip only, however long its history.
  const url = retry.url
  await remoteRead(git, retry, `fetch ${base}`, [...fetch, '--depth=1', '--', url, baseSpec])
  if (!branch) return
  const headSpec = `+refs/heads/${branch}:refs/remotes/origin/${branch}`
  try {
    // The head's own commits and nothing below them: the server stops at every commit the base
    // reaches (deepen-not), which is exactly the set the foreign-commit check must see, complete.
    await remoteRead(git, retry, `fetch ${branch}`, [
      ...fetch,
      `--shallow-exclude=refs/heads/${base}`,
      '--',
      url,
      headSpec
    ])
  } catch (e) {
    // A failing server is not a missing feature: falling back would only fail again.
    if (e instanceof ServerFailing) throw e
    // A head with no commits of its own (merged, or at the base tip) selects nothing, and a server
    // without deepen-not refuses: fetch both whole, as a truncated history proves nothing.
    await remoteRead(git, retry, `fetch ${base} and ${branch}`, [
      ...fetch,
      '--unshallow',
      '--',
      url,
      baseSpec,
      headSpec
    ])
  }
}

export async function treeOf(git: PrGit, rev: string): Promise<string> {
  return (await git(['rev-parse', `${rev}^{tree}`])).trim()
}

/** Our commits on the head, newest first (after fetchTips), for the foreign-commit check. */
export async function branchCommits(
  git: PrGit,
  base: string,
  headTip: string
): Promise<{sha: string; author: string; message: string}[]> {
  const out = await git([
    'log',
    '--format=%H%x1f%an <%ae>%x1f%B%x1e',
    `refs/remotes/origin/${base}..${headTip}`
  ])
  return out
    .split('\x1e')
    .map(r => r.replace(/^\n+/, ''))
    .filter(r => r.trim())
    .map(r => {
      const [sha, author, message] = r.split('\x1f')
      return {sha, author, message: message ?? ''}
    })
}

/**
 * Pushes `commit` to the PR branch only if the branch is still at `expected`
 * (absent: must not exist). A transient failure leaves the outcome unknown,
 * so the branch is asked first: our commit there means it landed, another
 * tip means someone else moved it (LeaseLost: re-plan, re-check their
 * commits), the old tip means nothing happened and the same lease is safe to
 * push again.
 */
export async function pushWithLease(
  git: PrGit,
  retry: RemoteRetry,
  commit: string,
  branch: string,
  expected: string | undefined
): Promise<void> {
  const {url, log} = retry
  const ref = `refs/heads/${branch}`
  // An empty expected value means "must not exist yet", so two first runs cannot both create the branch.
  const lease = `--force-with-lease=${ref}:${expected ?? ''}`
  for (let tries = 1; ; tries++) {
    const started = Date.now()
    // --no-verify like every push of ours: a pre-push hook must not veto or alter the PR branch.
    const result = await execPush(git, [
      'push',
      '--porcelain',
      '--no-verify',
      lease,
      '--',
      url,
      `${commit}:${ref}`
    ])
    if (result.ok) return
    const text = result.text
    // Server-side ref races (GitHub "cannot lock ref", GitLab "incorrect old value") mean the same as a lost lease.
    const raced = /cannot lock ref|incorrect old value|failed to update ref/i.test(text)
    if (/remote rejected/i.test(text) && !raced) {
      const reason = /\[remote rejected\]\s*\(([^)]*)\)/.exec(text)?.[1] ?? 'rejected by the server'
      throw new OperationError(
        `the server refused the push to ${branch} (${reason}); the branch may be protected against force pushes: allow them for ${branch} or choose another --pr-branch`
      )
    }
    if (raced || /\((stale info|fetch first|non-fast-forward)\)/i.test(text))
      throw new LeaseLost(text)
    const classified = result.output ? classifyPush(result.output) : undefined
    if (
      classified?.kind !== 'error' ||
      (classified.reason !== 'transient' && classified.reason !== 'network')
    ) {
      throw new OperationError(
        `git push of ${branch} failed: ${text.trim().split('\n').slice(-3).join(' | ')}; check that the token may push to the repository`
      )
    }
    const transient = classified.reason === 'transient'
    // Only the server knows whether the push landed: ask before anything else.
    let now: string | undefined
    try {
      now = (await remoteTips(git, retry, [branch])).get(branch)
    } catch (e) {
      throw new OperationError(
        `git push of ${branch} to ${url} failed (${oneLine(classified.detail)}) and the server could not be asked whether the branch moved (${errorMessage(e)}); re-run the job: it picks up whatever this run left on ${branch}`
      )
    }
    if (now === commit) {
      log.info(
        `the push of ${branch} landed although its answer was lost (${oneLine(classified.detail)})`
      )
      return
    }
    if (now !== expected) {
      throw new LeaseLost(
        `${branch} moved to ${now?.slice(0, 12) ?? '(deleted)'} while our push failed (${oneLine(classified.detail)})`
      )
    }
    const state = `${branch} is still ${expected ? `at ${expected.slice(0, 12)}` : 'absent'}, so nothing was changed`
    if (!transient) {
      throw new OperationError(
        `git push of ${branch} to ${url} failed: the connection was lost (${oneLine(classified.detail)}); ${state}. Check the URL, network and proxy, then re-run`
      )
    }
    if (tries >= retry.attempts) {
      throw new OperationError(
        `git push of ${branch} to ${url} failed after ${plural(tries, 'attempt')}: the server kept failing (${oneLine(classified.detail)}); ${state} and no pull request was created or changed. ${retry.fix}`
      )
    }
    const delay = backoffDelay(tries, retry.backoff, Date.now() - started)
    log.info(
      `git push of ${branch} failed (${oneLine(classified.detail)}); ${state}; attempt ${tries + 1} of ${retry.attempts} in ${delay} ms with the same lease`
    )
    await pause(retry.backoff, delay)
  }
}

async function execPush(
  git: PrGit,
  args: string[]
): Promise<{ok: boolean; text: string; output?: GitOutput}> {
  try {
    await git(args)
    return {ok: true, text: ''}
  } catch (e) {
    if (e instanceof GitError) {
      return {ok: false, text: `${e.output.stdout}\n${e.output.stderr}`, output: e.output}
    }
    return {ok: false, text: errorMessage(e)}
  }
}
