import {mkdtemp, realpath, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {isAbsolute, join, relative, sep} from 'node:path'
import {onInterrupt} from '../core/cleanup.js'
import {OperationError, UsageError} from '../core/errors.js'
import type {Redactor} from '../core/redact.js'
import {authFailureMessage, authFromEnv, type GitAuth} from '../git/auth.js'
import {Git, type Identity} from '../git/git.js'
import {GitError} from '../git/exec.js'
import {classifyRemoteFailure, isTransient, type RemoteFailure} from '../git/push-result.js'
import {displayUrl, parseRemoteUrl, type RemoteUrl} from '../git/remote-url.js'
import {sparseDirs, widenDirs} from '../git/sparse-set.js'
import type {PlanOutcome, Planner} from '../edits/edit.js'
import {kustomizeClosure, type EntryKind, type TreeSource} from '../edits/kustomize-closure.js'
import {isKustomizationFile} from '../core/kustomize/kustomization-file.js'
import {parentOf} from '../forge/repo-api.js'
import {readFile} from 'node:fs/promises'
import {DEFAULT_BACKOFF, backoffDelay, pause, type Backoff} from '../core/backoff.js'

import type {Env} from '../platform/inputs.js'

export interface RemoteWriteOptions<O extends PlanOutcome> {
  /** --repo as the user gave it: URL, scp-like SSH address or local path. */
  repo: string
  /** Defaults to the remote's default branch. */
  branch?: string
  planner: Planner<O>
  /** Builds the commit message for the outcome of one attempt. */
  message: (outcome: O, branch: string) => string
  author: Identity
  maxAttempts: number
  dryRun: boolean
  env: Env
  redactor: Redactor
  /** Resolves relative --repo paths. */
  cwd?: string
  log?: (message: string) => void
  debug?: (message: string) => void
  backoff?: Backoff
  /** Test hook: sees the clone (e.g. its .git/config) just before it is deleted. */
  inspectClone?: (dir: string) => Promise<void>
}

interface Common {
  branch: string
  attempts: number
  remote: RemoteUrl
}

export type RemoteWriteResult<O extends PlanOutcome> =
  /** A commit landed on the branch. */
  | (Common & {kind: 'pushed'; commit: string; base: string; outcome: O; message: string})
  /** The branch already holds the requested state (possibly after a retry). */
  | (Common & {kind: 'unchanged'; base: string; outcome: O})
  /** --dry-run: what would be committed; nothing was pushed. */
  | (Common & {kind: 'dry-run'; base: string; outcome: O; message: string})
  /** Refused for good (protection, hook) or still losing races after the last attempt. */
  | (Common & {kind: 'rejected'; reason: string; detail: string; outcome: O})

/**
 * Clones only what the edit needs (depth 1, one branch, no blobs but the
 * sparse set), applies the planner, commits and pushes; when the branch moved
 * meanwhile it fetches the new tip and re-plans from scratch on it, so a
 * stale commit is never pushed again. The clone lives in a temp dir that is
 * removed on every path out.
 */
export async function remoteWrite<O extends PlanOutcome>(
  options: RemoteWriteOptions<O>
): Promise<RemoteWriteResult<O>> {
  if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1) {
    throw new UsageError(`--max-attempts must be a whole number >= 1, got ${options.maxAttempts}`)
  }
  const remote = parseRemoteUrl(options.repo, options.cwd ?? process.cwd())
  const auth = authFromEnv(remote, options.env, options.redactor)
  const tmp = await mkdtemp(join(tmpdir(), 'gitops-deploy-'))
  const forget = onInterrupt(() => rm(tmp, {recursive: true, force: true}))
  try {
    const git = await Git.create(join(tmp, 'repo'), {
      redactor: options.redactor,
      config: auth.config,
      debug: options.debug
    })
    return await writeLoop(git, remote, auth, options)
  } finally {
    if (options.inspectClone) await options.inspectClone(join(tmp, 'repo')).catch(() => undefined)
    await rm(tmp, {recursive: true, force: true})
    forget()
  }
}

async function writeLoop<O extends PlanOutcome>(
  git: Git,
  remote: RemoteUrl,
  auth: GitAuth,
  options: RemoteWriteOptions<O>
): Promise<RemoteWriteResult<O>> {
  const where = displayUrl(remote)
  const log = options.log ?? (() => undefined)
  const backoff = options.backoff ?? DEFAULT_BACKOFF
  const retry = retrying(options, backoff, log)
  const clone = await retry(`clone ${where}`, async () => {
    // A failed clone may leave a partial directory behind.
    await rm(git.dir, {recursive: true, force: true})
    return git.cloneForEdit(remote.url, options.branch)
  })
  const cloned = clone.result
  if (cloned.kind === 'failed')
    throw remoteError(cloned.failure, remote, auth, 'read', options.branch, clone.tries)
  if (cloned.kind === 'empty') {
    throw new UsageError(
      `${where} has no commits${options.branch ? ` on '${options.branch}'` : ''}; push an initial commit to the config repo first`
    )
  }
  const branch = cloned.branch
  let base = cloned.commit
  const fetchTip = async () => {
    const fetched = await retry(`fetch ${branch} from ${where}`, () => git.fetchTip(branch))
    if (fetched.result.kind === 'failed')
      throw remoteError(fetched.result.failure, remote, auth, 'read', branch, fetched.tries)
    return fetched.result.commit
  }
  let checkedOut: string[] | undefined
  for (let attempt = 1; ; attempt++) {
    const started = Date.now()
    const common = {branch, attempts: attempt, remote}
    // Recomputed on every new tip: apps added meanwhile may match the globs.
    const dirs = sparseDirs(await git.listFiles(base), options.planner.patterns)
    options.debug?.(
      `sparse checkout of ${dirs.length} director${dirs.length === 1 ? 'y' : 'ies'} at ${base}`
    )
    const same = checkedOut !== undefined && sameList(checkedOut, dirs)
    // The checkout downloads the sparse set's file contents: a network step of its own.
    const checkout = await retry(`download files at ${base.slice(0, 12)} from ${where}`, () =>
      git.checkoutSparse(base, same ? undefined : dirs).then(
        () => ({kind: 'done' as const}),
        (e: unknown) => {
          if (!(e instanceof GitError)) throw e
          return {
            kind: 'failed' as const,
            failure: classifyRemoteFailure(e.output.stderr, e.timedOut),
            e
          }
        }
      )
    )
    if (checkout.result.kind === 'failed') {
      if (!isTransient(checkout.result.failure)) throw checkout.result.e
      throw remoteError(checkout.result.failure, remote, auth, 'read', branch, checkout.tries)
    }
    checkedOut = dirs
    // A symlink into a directory outside the sparse set dangles in the checkout: widen the set
    // to what the links point at (a few rounds, for links to links).
    for (let round = 0; round < 3; round++) {
      const links = await git.symlinkTargets(base, checkedOut)
      if (links.length === 0) break
      const files = new Set(await git.listFiles(base))
      // A link to a file needs the file's directory; a link to a directory, the directory.
      const targets = links
        .map(t => (files.has(t) ? t.slice(0, Math.max(0, t.lastIndexOf('/'))) : t))
        .filter(Boolean)
      const wider = widenDirs(checkedOut, targets)
      if (!wider) break
      options.debug?.(`widening the sparse checkout to symlink targets: ${wider.join(', ')}`)
      await git.checkoutSparse(base, wider)
      checkedOut = wider
    }
    if (options.planner.patterns.closure) {
      checkedOut = await widenToClosure(git, base, checkedOut, options.debug)
    }
    const outcome = await options.planner.plan(git.dir)
    if (!outcome.changed) return {...common, kind: 'unchanged', base, outcome}
    const message = options.message(outcome, branch)
    if (options.dryRun) return {...common, kind: 'dry-run', base, outcome, message}
    await options.planner.write(git.dir, outcome)
    const commit = await git.commitFiles(
      await stagedPaths(
        git.dir,
        outcome.files.map(f => f.file)
      ),
      message,
      options.author
    )
    if (commit === null) return {...common, kind: 'unchanged', base, outcome}
    const pushed = await git.pushHead(branch)
    switch (pushed.kind) {
      case 'pushed':
        return {...common, kind: 'pushed', commit, base, outcome, message}
      case 'up-to-date':
        // The branch already points at this very commit: the same bytes (edit, parent, author,
        // second) from a concurrent identical job, or our own push whose answer was lost. Either
        // way the commit this run made is the one on the branch: report it as landed.
        return {...common, kind: 'pushed', commit, base, outcome, message}
      case 'auth-failed':
        throw new OperationError(authFailureMessage(auth, hostOf(remote), 'push', pushed.status))
      case 'error': {
        if (pushed.reason === 'not-found' || pushed.reason === 'redirected') {
          throw remoteError(pushed, remote, auth, 'push', branch)
        }
        if (pushed.reason !== 'network' && pushed.reason !== 'transient') {
          throw new OperationError(`push to ${where} failed: ${pushed.detail}`)
        }
        // The push may or may not have landed: only the server knows whether the ref moved.
        const after = await git.remoteBranchCommit(branch)
        if (after.kind === 'at' && after.commit === commit) {
          return {...common, kind: 'pushed', commit, base, outcome, message}
        }
        const asked = after.kind === 'at' || isTransient(after.failure)
        if (isTransient(pushed) && asked && attempt < options.maxAttempts) {
          const delay = backoffDelay(attempt, backoff, Date.now() - started)
          log(
            `push to ${branch} failed (${oneLine(pushed.detail)}); the branch did not take it; attempt ${attempt + 1} of ${options.maxAttempts} in ${delay} ms on a fresh tip`
          )
          await pause(backoff, delay)
          const tip = await fetchTip()
          // It landed after all (the answer was lost, and ls-remote could not tell).
          if (tip === commit) return {...common, kind: 'pushed', commit, base, outcome, message}
          // Never push the old commit again: re-plan on whatever the branch holds now.
          base = tip
          continue
        }
        const state =
          after.kind === 'at'
            ? `the branch is still at ${after.commit?.slice(0, 12) ?? '(missing)'}, so nothing was changed`
            : 'the server could not be asked whether the branch moved'
        if (isTransient(pushed) && asked) {
          throw new OperationError(
            `push to ${where} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: the server kept failing (${oneLine(pushed.detail)}); ${state}. This is a server or network problem: re-run the job later (check the forge's status page), or raise --max-attempts to ride out longer outages`
          )
        }
        throw new OperationError(
          `push to ${where} failed: the connection was lost (${oneLine(pushed.detail)}); ${state}. Re-run the job: set-image is idempotent`
        )
      }
      case 'rejected': {
        if (pushed.reason !== 'moved') {
          return {
            ...common,
            kind: 'rejected',
            reason: pushed.reason,
            detail: pushed.detail,
            outcome
          }
        }
        // The connection may have dropped after the server applied our push, and the client's
        // re-send was refused as a duplicate: our own commit on the tip means it landed.
        const now = await git.remoteBranchCommit(branch)
        if (now.kind === 'at' && now.commit === commit) {
          return {...common, kind: 'pushed', commit, base, outcome, message}
        }
        if (attempt >= options.maxAttempts) {
          return {
            ...common,
            kind: 'rejected',
            reason: 'moved',
            detail: `the branch kept moving: ${attempt} attempt${attempt === 1 ? '' : 's'} lost the race to other pushes (last: ${oneLine(pushed.detail)}); raise --max-attempts or serialise the jobs (CI concurrency group)`,
            outcome
          }
        }
        const delay = backoffDelay(attempt, backoff, Date.now() - started)
        log(
          `push rejected (${branch} moved); attempt ${attempt + 1} of ${options.maxAttempts} in ${delay} ms on the new tip`
        )
        await pause(backoff, delay)
        base = await fetchTip()
      }
    }
  }
}

/**
 * Runs a read (clone, fetch) again while it fails transiently (5xx, dropped
 * connection), with the push loop's backoff and up to --max-attempts tries.
 */
function retrying(
  options: {maxAttempts: number},
  backoff: Backoff,
  log: (message: string) => void
) {
  return async <R extends {kind: string; failure?: RemoteFailure}>(
    what: string,
    op: () => Promise<R>
  ): Promise<{result: R; tries: number}> => {
    for (let tries = 1; ; tries++) {
      const started = Date.now()
      const result = await op()
      if (result.kind !== 'failed' || !result.failure || !isTransient(result.failure)) {
        return {result, tries}
      }
      if (tries >= options.maxAttempts) return {result, tries}
      const delay = backoffDelay(tries, backoff, Date.now() - started)
      log(
        `${what} failed (${oneLine(result.failure.detail)}); attempt ${tries + 1} of ${options.maxAttempts} in ${delay} ms`
      )
      await pause(backoff, delay)
    }
  }
}

/**
 * What to stage for the written files: a file reached through a symlink
 * inside the repository was written at the link's target, so the target is
 * what changed (the link itself did not).
 */
async function stagedPaths(dir: string, files: string[]): Promise<string[]> {
  const root = await realpath(dir)
  return Promise.all(
    files.map(async f => {
      const real = await realpath(join(dir, f)).catch(() => undefined)
      const rel = real ? relative(root, real) : ''
      return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : f
    })
  )
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

function hostOf(remote: RemoteUrl): string {
  if (remote.transport === 'http') return new URL(remote.url).host
  return displayUrl(remote)
}

function oneLine(text: string): string {
  return text.split('\n').filter(Boolean).slice(-2).join(' | ')
}

function remoteError(
  failure: RemoteFailure,
  remote: RemoteUrl,
  auth: GitAuth,
  operation: 'read' | 'push',
  branch: string | undefined,
  tries = 1
): Error {
  const where = displayUrl(remote)
  if (failure.kind === 'auth-failed') {
    return new OperationError(authFailureMessage(auth, hostOf(remote), operation, failure.status))
  }
  switch (failure.reason) {
    case 'redirected':
      return new UsageError(
        `${where} answered with a redirect (${oneLine(failure.detail)}), which is not followed while a token is set, so the token never reaches another host; pass the repository's current URL as --repo (open the URL in a browser to see where it moved)`
      )
    case 'not-found':
      if (operation === 'push') {
        return new OperationError(
          `push to ${where} failed: the server answered 404 (${oneLine(failure.detail)}); check --repo, and that the token may write to the repository (GitHub and GitLab answer 404 to a token that cannot see it)`
        )
      }
      if (branch && /Remote branch|couldn't find remote ref/i.test(failure.detail)) {
        return new UsageError(
          `branch '${branch}' does not exist in ${where}; create it or pass an existing --branch`
        )
      }
      return new UsageError(
        `config repo ${where} was not found (${oneLine(failure.detail)}); check --repo${remote.transport === 'http' ? ', and that the token can read it (some forges answer 404 to unauthorised requests)' : ''}`
      )
    case 'transient':
      return new OperationError(
        `could not read ${where}: the server kept failing after ${tries} attempt${tries === 1 ? '' : 's'} (${oneLine(failure.detail)}); this is a server or network problem: re-run the job later (check the forge's status page), or raise --max-attempts to ride out longer outages`
      )
    case 'network':
      return new OperationError(
        `could not reach ${where} (${oneLine(failure.detail)}); check the URL, network and proxy, then re-run`
      )
    default:
      return new OperationError(`git could not read ${where}: ${oneLine(failure.detail)}`)
  }
}

/**
 * Widens the sparse checkout to what rendering the checked-out
 * kustomizations reads (their bases, components and patch files, outside the
 * directories the edit named), so the render check sees what a full checkout
 * would. The tree listing needs no blobs; each level of the walk is one
 * checkout (one batch of blobs).
 */
async function widenToClosure(
  git: Git,
  base: string,
  checkedOut: string[],
  debug: ((message: string) => void) | undefined
): Promise<string[]> {
  if (checkedOut.includes('')) return checkedOut
  const all = await git.listFiles(base)
  const files = new Set(all)
  const dirs = new Set<string>([''])
  for (const f of all) for (let d = parentOf(f); d; d = parentOf(d)) dirs.add(d)
  const children = new Map<string, {path: string; kind: EntryKind}[]>()
  const child = (path: string, kind: EntryKind) => {
    const parent = parentOf(path)
    if (!children.has(parent)) children.set(parent, [])
    children.get(parent)!.push({path, kind})
  }
  for (const f of all) child(f, 'file')
  for (const d of dirs) if (d) child(d, 'dir')
  let current = checkedOut
  const widen = async (more: string[]) => {
    const wider = widenDirs(current, more)
    if (!wider) return
    debug?.(`widening the sparse checkout to what the render reads: ${wider.join(', ')}`)
    await git.checkoutSparse(base, wider)
    current = wider
  }
  const source: TreeSource = {
    kind: async p => (files.has(p) ? 'file' : dirs.has(p) ? 'dir' : undefined),
    list: async d => children.get(d) ?? [],
    read: p => readFile(join(git.dir, p)).catch(() => undefined),
    prefetch: widen
  }
  const inCheckout = (p: string) => current.some(d => p === d || p.startsWith(`${d}/`))
  const start = all.filter(f => isKustomizationFile(f) && inCheckout(f)).map(parentOf)
  const closure = await kustomizeClosure(source, start)
  await widen(closure.files.map(parentOf).filter(Boolean))
  return current
}
