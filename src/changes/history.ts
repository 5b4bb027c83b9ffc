import {readFile} from 'node:fs/promises'
import {isAbsolute, join} from 'node:path'
import {OperationError} from '../core/errors.js'
import type {Redactor} from '../core/redact.js'
import {execGit, GitError, type GitOutput} from '../git/exec.js'
import {HARDENED_CONFIG} from '../git/git.js'
import type {FileChange} from './filter.js'

/**
 * Every git call `changes` makes, over the one exec funnel. Kept separate from
 * the general git wrapper because this command only reads history and deepens
 * shallow clones; it never writes refs the user would see.
 */
export interface HistoryContext {
  cwd: string
  remote: string
  redactor?: Redactor
  /** Network calls get a generous cap; a dead server must not hang CI forever. */
  fetchTimeoutMs?: number
  log?: (message: string) => void
}

// The one hardened git config (no hooks, no autocrlf, …), and our own fetches must not start a
// gc/maintenance run in the user's checkout.
const CONFIG = {
  ...HARDENED_CONFIG,
  'gc.auto': '0',
  'maintenance.auto': 'false',
  'fetch.recurseSubmodules': 'false',
  // User config must not reshape the output we parse.
  'log.showSignature': 'false',
  'log.showRoot': 'true'
}

async function git(ctx: HistoryContext, args: string[], allowFailure = false): Promise<GitOutput> {
  return execGit(args, {cwd: ctx.cwd, config: CONFIG, redactor: ctx.redactor, allowFailure})
}

async function fetchGit(ctx: HistoryContext, args: string[]): Promise<GitOutput> {
  ctx.log?.(`git ${args.join(' ')}`)
  return execGit(args, {
    cwd: ctx.cwd,
    config: CONFIG,
    redactor: ctx.redactor,
    allowFailure: true,
    timeoutMs: ctx.fetchTimeoutMs ?? 10 * 60_000
  })
}

export async function topLevel(cwd: string): Promise<string> {
  const out = await execGit(['rev-parse', '--show-toplevel'], {cwd, allowFailure: true})
  if (out.code !== 0) {
    throw new OperationError(
      `${cwd} is not a git checkout (${out.stderr.trim() || 'git rev-parse failed'}); run in the application repository or pass --root`
    )
  }
  return out.stdout.trim()
}

export async function resolveCommit(ctx: HistoryContext, rev: string): Promise<string | undefined> {
  const out = await git(
    ctx,
    ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`],
    true
  )
  return out.code === 0 ? out.stdout.trim() : undefined
}

export async function commitExists(ctx: HistoryContext, sha: string): Promise<boolean> {
  const out = await git(ctx, ['cat-file', '-e', `${sha}^{commit}`], true)
  return out.code === 0
}

export async function isShallow(ctx: HistoryContext): Promise<boolean> {
  const out = await git(ctx, ['rev-parse', '--is-shallow-repository'])
  return out.stdout.trim() === 'true'
}

/** Commits whose parents were cut off by a shallow fetch; git shows them as roots. */
export async function shallowCommits(ctx: HistoryContext): Promise<Set<string>> {
  const out = await git(ctx, ['rev-parse', '--git-path', 'shallow'])
  const rel = out.stdout.trim()
  const path = isAbsolute(rel) ? rel : join(ctx.cwd, rel)
  try {
    const text = await readFile(path, 'utf8')
    return new Set(text.split('\n').filter(l => l.length > 0))
  } catch {
    return new Set()
  }
}

export async function mergeBase(
  ctx: HistoryContext,
  a: string,
  b: string
): Promise<string | undefined> {
  const out = await git(ctx, ['merge-base', a, b], true)
  return out.code === 0 ? out.stdout.trim() : undefined
}

export async function tagsPointingAt(ctx: HistoryContext, sha: string): Promise<string[]> {
  const out = await git(ctx, ['tag', '--points-at', sha, '--sort=-v:refname'], true)
  return out.stdout.split('\n').filter(Boolean)
}

export async function currentBranch(ctx: HistoryContext): Promise<string | undefined> {
  const out = await git(ctx, ['symbolic-ref', '--quiet', '--short', 'HEAD'], true)
  return out.code === 0 ? out.stdout.trim() : undefined
}

/** The remote's default branch, asked of the server; undefined when it does not say. */
export async function remoteDefaultBranch(ctx: HistoryContext): Promise<string | undefined> {
  const out = await fetchGit(ctx, ['ls-remote', '--symref', ctx.remote, 'HEAD'])
  const m = /^ref: refs\/heads\/(\S+)\s+HEAD$/m.exec(out.stdout)
  return m?.[1]
}

/**
 * Fetches one commit by id. Servers that speak protocol v2 (GitHub, GitLab,
 * git itself) serve any commit they still have; one that a force push orphaned
 * and gc removed is refused ('gone'). Old servers refuse every unadvertised
 * commit ('refused'): the caller then deepens instead.
 */
export async function fetchCommit(
  ctx: HistoryContext,
  sha: string,
  shallow: boolean
): Promise<'fetched' | 'gone' | 'refused'> {
  // In a complete clone a --depth fetch would turn it shallow; fetch whole then.
  const args = ['fetch', '--no-tags', '--quiet', ...(shallow ? ['--depth=1'] : []), ctx.remote, sha]
  const out = await fetchGit(ctx, args)
  if (out.code === 0 && (await commitExists(ctx, sha))) return 'fetched'
  if (/not our ref|no such remote ref|couldn't find remote ref/i.test(out.stderr)) return 'gone'
  return 'refused'
}

/** Fetches a branch of the remote into its remote-tracking ref; returns its commit. */
export async function fetchBranch(
  ctx: HistoryContext,
  branch: string,
  shallow: boolean
): Promise<string | undefined> {
  const tracking = `refs/remotes/${ctx.remote}/${branch}`
  const args = ['fetch', '--no-tags', '--quiet', ...(shallow ? ['--depth=1'] : [])]
  const out = await fetchGit(ctx, [...args, ctx.remote, `+refs/heads/${branch}:${tracking}`])
  if (out.code !== 0) return undefined
  return resolveCommit(ctx, tracking)
}

export type DeepenResult = 'deepened' | 'complete'

/**
 * Deepens a shallow clone in doubling steps (50, 100, 200...) and, past a
 * budget, fetches the whole history. `wants` are the commits whose history we
 * need; naming them keeps the fetch from pulling every branch of the remote.
 */
export class Deepener {
  private step: number
  private fetched = 0
  private unshallowed = false
  fetches = 0

  constructor(
    private readonly ctx: HistoryContext,
    private readonly options: {initialStep?: number; unshallowAfter?: number} = {}
  ) {
    this.step = options.initialStep ?? 50
  }

  /** True once nothing more can be fetched: the clone is complete or was unshallowed. */
  get exhausted(): boolean {
    return this.unshallowed
  }

  async deepen(wants: string[]): Promise<DeepenResult> {
    if (this.unshallowed || !(await isShallow(this.ctx))) {
      this.unshallowed = true
      return 'complete'
    }
    const budget = this.options.unshallowAfter ?? 10_000
    const last = this.fetched >= budget
    const how = last ? '--unshallow' : `--deepen=${this.step}`
    let out = await fetchGit(this.ctx, [
      'fetch',
      '--no-tags',
      '--quiet',
      how,
      this.ctx.remote,
      ...wants
    ])
    if (out.code !== 0 && wants.length > 0) {
      // Servers without protocol v2 refuse unadvertised commits; use the configured refspecs.
      out = await fetchGit(this.ctx, ['fetch', '--no-tags', '--quiet', how, this.ctx.remote])
    }
    if (out.code !== 0) {
      throw new OperationError(
        `could not deepen the shallow clone from '${this.ctx.remote}' (${out.stderr.trim().split('\n').pop()}); check the remote and its credentials, or check out with full history (fetch-depth: 0 / GIT_DEPTH: 0)`
      )
    }
    this.fetches++
    if (last) this.unshallowed = true
    else {
      this.fetched += this.step
      this.step *= 2
    }
    return 'deepened'
  }
}

/**
 * Parses `git diff --name-status -z` output. Renames and copies carry a score
 * and two paths (`R100\0old\0new\0`); everything else one path.
 */
export function parseNameStatus(output: string): FileChange[] {
  const tokens = output.split('\0')
  const changes: FileChange[] = []
  let i = 0
  while (i < tokens.length) {
    const status = tokens[i++]
    if (!status) continue
    const letter = status[0]
    if (letter === 'R' || letter === 'C') {
      const from = tokens[i++]
      const path = tokens[i++]
      if (from === undefined || path === undefined)
        throw new Error(`truncated rename entry in git diff output`)
      changes.push({status: letter, path, from})
    } else {
      const path = tokens[i++]
      if (path === undefined) throw new Error(`truncated entry in git diff output`)
      changes.push({status: letter, path})
    }
  }
  return changes
}

export async function diffNameStatus(
  ctx: HistoryContext,
  base: string,
  head: string
): Promise<FileChange[]> {
  const out = await git(ctx, [
    'diff',
    '--name-status',
    '-z',
    '-M',
    '--no-ext-diff',
    '--no-textconv',
    '--ignore-submodules=none',
    base,
    head,
    '--'
  ])
  return parseNameStatus(out.stdout)
}

export interface LogEntry {
  sha: string
  parents: string[]
  /** Paths changed against the first parent; a rename shows as both paths (no rename detection). */
  files: string[]
}

const HEADER = /^\n?\x01([0-9a-f]{40,64})((?: [0-9a-f]{40,64})*) ?$/

/**
 * Parses `git log --name-only -z --format=%x01%H %P`: each commit is a header
 * token `\x01<sha> <parents>` followed by NUL-terminated paths (the first one
 * after a newline).
 */
export function parseLog(output: string): LogEntry[] {
  const entries: LogEntry[] = []
  let current: LogEntry | undefined
  for (const raw of output.split('\0')) {
    const header = HEADER.exec(raw)
    if (header) {
      current = {sha: header[1], parents: header[2].trim().split(' ').filter(Boolean), files: []}
      entries.push(current)
      continue
    }
    const path = raw.startsWith('\n') ? raw.slice(1) : raw
    if (!path) continue
    if (!current) throw new Error('git log output does not start with a commit header')
    current.files.push(path)
  }
  return entries
}

/**
 * One page of the first-parent history from `start`, each commit with the
 * paths it changed against its first parent (merges included, judged against
 * the branch they landed on). Renames are off, so a move lists both paths.
 */
export async function firstParentLog(
  ctx: HistoryContext,
  start: string,
  skip: number,
  count: number
): Promise<LogEntry[]> {
  const out = await git(ctx, [
    'log',
    '--first-parent',
    '--diff-merges=first-parent',
    '--root',
    '--no-renames',
    '--no-ext-diff',
    '--name-only',
    '-z',
    '--format=%x01%H %P',
    `--skip=${skip}`,
    `--max-count=${count}`,
    start,
    '--'
  ])
  return parseLog(out.stdout)
}

export {GitError}
