import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {basename} from 'node:path'
import debug from 'debug'
import {simpleGit, type SimpleGit} from 'simple-git'
import type {Redactor} from '../core/redact.js'

// simple-git logs through `debug`: with DEBUG=simple-git* it would print each git child's
// environment (the auth header in GIT_CONFIG_VALUE_n) and its raw output, past the Redactor.
// Its namespaces stay off whatever DEBUG says; others keep working.
debug.enable([debug.disable(), '-simple-git*'].filter(Boolean).join(','))

export interface GitOutput {
  code: number
  stdout: string
  stderr: string
  /**
   * execGit's own timeoutMs killed git: the server or the link stalled, so the
   * retry classifier counts this as transient (src/git/push-result.ts).
   */
  timedOut?: boolean
}

export interface GitExecOptions {
  cwd: string
  /** Extra variables; merged over the hardened environment. */
  env?: Record<string, string | undefined>
  /** Config passed through GIT_CONFIG_COUNT, never argv or .git/config. */
  config?: Record<string, string>
  input?: string
  /** Resolve with a non-zero code instead of throwing. */
  allowFailure?: boolean
  redactor?: Redactor
  /** Kill after this many ms (a dead server must not hang CI). */
  timeoutMs?: number
}

export class GitError extends Error {
  constructor(
    message: string,
    readonly output: GitOutput,
    readonly args: string[]
  ) {
    super(message)
    this.name = 'GitError'
  }

  get timedOut(): boolean {
    return this.output.timedOut === true
  }
}

/**
 * The environment every git child gets. Prompts would hang a CI job forever,
 * and user/system config (hooks, aliases, credential helpers, signing) must not
 * change what we do.
 */
export function hardenedEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    // Ambient GIT_* (GIT_DIR, GIT_INDEX_FILE from a hook...) would redirect us.
    if (k.startsWith('GIT_') && !KEEP.has(k)) continue
    env[k] = v
  }
  // Tokens are handed to git only as the scoped header (GIT_CONFIG_COUNT); the raw values
  // would otherwise sit in every git child's (and its helpers', hooks', ssh's) environment.
  for (const k of Object.keys(env)) if (SECRET_VARIABLE.test(k)) delete env[k]
  Object.assign(env, {
    GIT_TERMINAL_PROMPT: '0',
    GCM_INTERACTIVE: 'Never',
    // An askpass that fails, not one that answers "": with a fake answer git turns a 401 (or a
    // redirect's 401) into a retry with credentials instead of stopping.
    GIT_ASKPASS: 'false',
    SSH_ASKPASS: 'false',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_LFS_SKIP_SMUDGE: '1',
    LC_ALL: 'C',
    LANG: 'C'
  })
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined || SECRET_VARIABLE.test(k)) delete env[k]
    else env[k] = v
  }
  return env
}

/**
 * Variables that hold tokens in our own interface (GITOPS_TOKEN, the Action's
 * INPUT_* inputs, ARGOCD_AUTH_TOKEN) and in the CI platforms' (GITHUB_TOKEN,
 * ACTIONS_*_TOKEN, CI_JOB_TOKEN...). None of them is needed by git.
 */
const SECRET_VARIABLE =
  /^(GITOPS_TOKEN|INPUT_.*|ARGOCD_AUTH_TOKEN|GITHUB_TOKEN|GH_TOKEN|GH_ENTERPRISE_TOKEN|GITLAB_TOKEN|CI_JOB_TOKEN|CI_REGISTRY_PASSWORD|CI_DEPLOY_PASSWORD|ACTIONS_RUNTIME_TOKEN|ACTIONS_ID_TOKEN_REQUEST_TOKEN)$/

// SSH users rely on these; the rest of GIT_* is dropped.
const KEEP = new Set(['GIT_SSH_COMMAND', 'GIT_SSH', 'GIT_CONFIG_GLOBAL', 'GIT_TRACE'])

/**
 * Every git call still running: its abort (simple-git kills git when it fires), its output
 * streams (closed by us when git is gone but a helper still holds them) and its end.
 */
interface LiveCall {
  abort: AbortController
  streams: NodeJS.ReadableStream[]
  ended: Promise<unknown>
}
const live = new Set<LiveCall>()

/**
 * Passes `signal` on to every running git child and all it started (git-remote-https,
 * send-pack, ssh), waits up to `graceMs` for them to end, then kills what is left: a push
 * that outlives us would land after we reported that it did not.
 *
 * simple-git hands us no ChildProcess (no pid) and cannot start git in its own process
 * group (its spawnOptions keep only uid and gid); its abort sends SIGINT to git alone,
 * and git leaves its transport helper running, the push still in flight. So the process
 * tree is read from the system (gitProcessTrees) and each process in it is signalled.
 */
export async function stopGitChildren(signal: NodeJS.Signals, graceMs = 2000): Promise<number> {
  const calls = [...live]
  if (calls.length === 0) return 0
  const pids = gitProcessTrees()
  for (const pid of pids) kill(pid, signal)
  // Also simple-git's own stop: a call not spawned yet never starts.
  for (const c of calls) c.abort.abort(new Error(`stopped by ${signal}`))
  const timer = new Promise<'late'>(r => setTimeout(() => r('late'), graceMs).unref())
  if ((await Promise.race([Promise.all(calls.map(c => c.ended)), timer])) === 'late') {
    for (const pid of pids) kill(pid, 'SIGKILL')
    for (const c of calls) for (const s of c.streams) destroy(s)
  }
  return calls.length
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // Already gone.
  }
}

/**
 * The pids of our git children (direct children of this process named git) and of all
 * their descendants: /proc on Linux, `ps` elsewhere; none when neither answers.
 */
export function gitProcessTrees(): number[] {
  const table = processTable()
  const children = new Map<number, number[]>()
  for (const p of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid])
  const found: number[] = []
  const walk = (pid: number) => {
    found.push(pid)
    for (const c of children.get(pid) ?? []) walk(c)
  }
  for (const p of table) if (p.ppid === process.pid && /^git$/.test(p.name)) walk(p.pid)
  return found
}

function processTable(): {pid: number; ppid: number; name: string}[] {
  const rows: {pid: number; ppid: number; name: string}[] = []
  if (existsSync('/proc/self/stat')) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
        const close = stat.lastIndexOf(')')
        const ppid = Number(stat.slice(close + 2).split(' ')[1])
        rows.push({pid: Number(entry), ppid, name: stat.slice(stat.indexOf('(') + 1, close)})
      } catch {
        // Ended while we read.
      }
    }
    return rows
  }
  try {
    const ps = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,comm='], {encoding: 'utf8'})
    for (const line of ps.split('\n')) {
      const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line)
      if (m) rows.push({pid: Number(m[1]), ppid: Number(m[2]), name: basename(m[3].trim())})
    }
  } catch {
    // No ps: only simple-git's abort reaches git.
  }
  return rows
}

function destroy(stream: NodeJS.ReadableStream): void {
  ;(stream as NodeJS.ReadableStream & {destroy?: () => void}).destroy?.()
}

/** What simple-git's `errors` hook saw of the finished process. */
interface Finished {
  exitCode: number | null
  stdout: Buffer
  stderr: Buffer
}

/**
 * The single funnel through which every git process is started, on simple-git's
 * `raw()`. Each call gets its own instance: the hardened environment through
 * `.env()`, config only as GIT_CONFIG_* in it, stdin through the `input` option,
 * the wall clock through the `abort` option, and an `errors` hook that keeps the
 * exit code and stderr so that we decide (and redact) what a failure says.
 */
export async function execGit(args: string[], options: GitExecOptions): Promise<GitOutput> {
  const config = options.config ?? {}
  const env = hardenedEnv({...options.env, ...configEnv(config)})
  // Any other variable that carries a registered secret (a token under a name we do not know).
  const secrets = options.redactor?.list() ?? []
  for (const [k, v] of Object.entries(env)) {
    if (v && !k.startsWith('GIT_CONFIG_') && secrets.some(s => s.length >= 8 && v.includes(s)))
      delete env[k]
  }
  const redact = (s: string) => (options.redactor ? options.redactor.redact(s) : s)
  const cmd = args.find(a => !a.startsWith('-')) ?? args[0]
  const abort = new AbortController()
  const streams: NodeJS.ReadableStream[] = []
  let finished: Finished | undefined
  let timedOut = false
  let timer: NodeJS.Timeout | undefined

  let git: SimpleGit
  try {
    git = simpleGit({
      baseDir: options.cwd,
      abort: abort.signal,
      // The variables and the config are ours (hardenedEnv, HARDENED_CONFIG, the auth header,
      // `git config` writes our code makes): say so to simple-git's guards, which exist to stop
      // untrusted input reaching git, not our own channel. Its config guard would otherwise
      // refuse core.hooksPath=/dev/null (the setting that turns hooks off) and print a
      // SIMPLE_GIT_UNLISTED_CONFIG warning on our stderr for every key outside its list. Its
      // flag guards stay on (--upload-pack, --exec, --template, -C, --git-dir...), up to `--`.
      allowEnvironment: Object.keys(env),
      allowConfig: ['*'],
      // Resolve on 'close' only (all output read), never 50 ms after 'exit' with output still
      // in the pipe; a timeout closes our ends of the pipes itself (below).
      completion: {onClose: true, onExit: false},
      // An empty Buffer, not '': simple-git writes (and so closes) stdin only for truthy input,
      // and git must never wait on an open stdin.
      input: () => (options.input === undefined ? Buffer.alloc(0) : options.input),
      errors: (error, result) => {
        finished = {
          exitCode: result.exitCode,
          stdout: Buffer.concat(result.stdOut),
          stderr: Buffer.concat(result.stdErr)
        }
        // The process ran: its outcome is ours to judge (allowFailure, timeouts, redaction).
        return undefined
      }
    })
      .env(env)
      .outputHandler((_command, stdout, stderr) => streams.push(stdout, stderr))
  } catch (e) {
    throw startFailure(e, args, redact)
  }

  const call: LiveCall = {abort, streams, ended: Promise.resolve()}
  if (options.timeoutMs) {
    timer = setTimeout(() => {
      timedOut = true
      abort.abort(new Error('timeout'))
      // A helper git started (git-remote-https) may still hold the pipes while it waits on the
      // server; closing our ends lets 'close' fire now instead of when that helper gives up.
      for (const s of streams) destroy(s)
    }, options.timeoutMs)
  }
  const running = git.raw(args)
  call.ended = running.catch(() => undefined)
  live.add(call)
  try {
    await running
  } catch (e) {
    // Thrown before git ran (a guard, a missing directory) or when git could not start.
    if (!finished) throw startFailure(e, args, redact)
  } finally {
    if (timer) clearTimeout(timer)
    live.delete(call)
  }
  if (!finished) throw startFailure(new Error('git gave no result'), args, redact)
  if (finished.exitCode !== null && finished.exitCode < 0) {
    // node's spawn failure (ENOENT...): simple-git puts the error's stack in stderr.
    const first = finished.stderr
      .toString('utf8')
      .split('\n')[0]
      .replace(/^Error: /, '')
    throw startFailure(new Error(first), args, redact)
  }

  const stderr = redact(finished.stderr.toString('utf8'))
  const result: GitOutput = {
    // null: killed by a signal (our abort sends SIGINT).
    code: finished.exitCode ?? 128,
    stdout: finished.stdout.toString('utf8'),
    stderr
  }
  if (timedOut) {
    // Killed by us, so git printed no reason; callers that classify stderr still get one.
    const why = `git ${cmd} timed out after ${formatSeconds(options.timeoutMs!)}`
    result.stderr = `${stderr}${stderr && !stderr.endsWith('\n') ? '\n' : ''}error: ${why}\n`
    result.timedOut = true
    if (!options.allowFailure) {
      const detail = stderr.trim().split('\n').slice(-3).join(' | ')
      throw new GitError(`${why}${detail ? `: ${detail}` : ''}`, result, args)
    }
    return result
  }
  if (result.code !== 0 && !options.allowFailure) {
    const detail = result.stderr.trim().split('\n').slice(-3).join(' | ')
    throw new GitError(`git ${cmd} failed (exit ${result.code}): ${detail}`, result, args)
  }
  return result
}

/** git did not run: a missing git or directory, or one of simple-git's guards refused. */
function startFailure(e: unknown, args: string[], redact: (s: string) => string): GitError {
  const message = redact(e instanceof Error ? e.message : String(e))
  const fix = /ENOENT/.test(message) && /spawn/.test(message) ? '; install git 2.25 or newer' : ''
  return new GitError(
    `could not start git: ${message}${fix}`,
    {code: -1, stdout: '', stderr: ''},
    args
  )
}

function formatSeconds(ms: number): string {
  const s = ms / 1000
  return `${Number.isInteger(s) || s >= 10 ? Math.round(s) : s.toFixed(1)}s`
}

/** The GIT_CONFIG_COUNT/KEY_n/VALUE_n variables that carry `config` to git and its children. */
export function configEnv(config: Record<string, string> = {}): Record<string, string> {
  const entries = Object.entries(config)
  if (entries.length === 0) return {}
  const env: Record<string, string> = {GIT_CONFIG_COUNT: String(entries.length)}
  entries.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k
    env[`GIT_CONFIG_VALUE_${i}`] = v
  })
  return env
}

/**
 * Streaming sibling of execGit for long-lived git processes whose output must
 * not be buffered (the test smart-HTTP server's `git http-backend`). Same
 * hardened environment and config channel, so there is still one funnel.
 */
export function spawnGit(
  args: string[],
  options: Pick<GitExecOptions, 'cwd' | 'env' | 'config'>
): ChildProcess {
  const env = hardenedEnv({...options.env, ...configEnv(options.config)})
  return spawn('git', args, {cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe']})
}
