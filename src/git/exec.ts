import {spawn, type ChildProcess} from 'node:child_process'
import type {Redactor} from '../core/redact.js'

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

/** Every git child still running, so an interrupted run can stop them before it exits. */
const live = new Set<ChildProcess>()

function track<T extends ChildProcess>(child: T): T {
  live.add(child)
  child.once('close', () => live.delete(child))
  child.once('error', () => live.delete(child))
  return child
}

/**
 * Passes `signal` on to every running git child and waits up to `graceMs`
 * for them to end, then kills what is left: a push that outlives us would
 * land after we reported that it did not.
 */
export async function stopGitChildren(signal: NodeJS.Signals, graceMs = 2000): Promise<number> {
  const children = [...live]
  if (children.length === 0) return 0
  const ended = children.map(
    c =>
      new Promise<void>(r =>
        c.exitCode !== null || c.signalCode !== null ? r() : c.once('close', () => r())
      )
  )
  for (const c of children) {
    // Detached children lead their own process group: signal the whole group (git-remote-https, ssh).
    try {
      if (c.pid) process.kill(-c.pid, signal)
    } catch {
      c.kill(signal)
    }
  }
  const timer = new Promise<'late'>(r => setTimeout(() => r('late'), graceMs).unref())
  if ((await Promise.race([Promise.all(ended), timer])) === 'late') {
    for (const c of live) {
      try {
        if (c.pid) process.kill(-c.pid, 'SIGKILL')
      } catch {
        c.kill('SIGKILL')
      }
    }
  }
  return children.length
}

/** The single funnel through which every git process is started. */
export function execGit(args: string[], options: GitExecOptions): Promise<GitOutput> {
  const config = Object.entries(options.config ?? {})
  const configEnv: Record<string, string> = {}
  if (config.length > 0) {
    configEnv.GIT_CONFIG_COUNT = String(config.length)
    config.forEach(([k, v], i) => {
      configEnv[`GIT_CONFIG_KEY_${i}`] = k
      configEnv[`GIT_CONFIG_VALUE_${i}`] = v
    })
  }
  const env = hardenedEnv({...options.env, ...configEnv})
  // Any other variable that carries a registered secret (a token under a name we do not know).
  const secrets = options.redactor?.list() ?? []
  for (const [k, v] of Object.entries(env)) {
    if (v && !k.startsWith('GIT_CONFIG_') && secrets.some(s => s.length >= 8 && v.includes(s)))
      delete env[k]
  }
  const redact = (s: string) => (options.redactor ? options.redactor.redact(s) : s)
  return new Promise((resolve, reject) => {
    // Its own process group, so a stop reaches git's helpers (git-remote-https) too.
    const child = track(
      spawn('git', args, {cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true})
    )
    const out: Buffer[] = []
    const err: Buffer[] = []
    const cmd = args.find(a => !a.startsWith('-')) ?? args[0]
    let timer: NodeJS.Timeout | undefined
    let timedOut = false
    if (options.timeoutMs) {
      timer = setTimeout(() => {
        timedOut = true
        child.kill('SIGKILL')
        // A helper git started (git-remote-https) may still hold the pipes while it waits on the
        // server; closing our ends lets 'close' fire now instead of when that helper gives up.
        child.stdout.destroy()
        child.stderr.destroy()
      }, options.timeoutMs)
    }
    child.stdout.on('data', d => out.push(d))
    child.stderr.on('data', d => err.push(d))
    child.on('error', e =>
      reject(
        new GitError(
          `could not start git: ${e.message}; install git 2.25 or newer`,
          {code: -1, stdout: '', stderr: ''},
          args
        )
      )
    )
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      const stderr = redact(Buffer.concat(err).toString('utf8'))
      const result: GitOutput = {
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr
      }
      if (timedOut) {
        // Killed by us, so git printed no reason; callers that classify stderr still get one.
        const why = `git ${cmd} timed out after ${formatSeconds(options.timeoutMs!)}`
        result.stderr = `${stderr}${stderr && !stderr.endsWith('\n') ? '\n' : ''}error: ${why}\n`
        result.timedOut = true
        if (!options.allowFailure) {
          const detail = stderr.trim().split('\n').slice(-3).join(' | ')
          reject(new GitError(`${why}${detail ? `: ${detail}` : ''}`, result, args))
        } else resolve(result)
      } else if (result.code !== 0 && !options.allowFailure) {
        const detail = result.stderr.trim().split('\n').slice(-3).join(' | ')
        reject(new GitError(`git ${cmd} failed (exit ${result.code}): ${detail}`, result, args))
      } else resolve(result)
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.input ?? '')
  })
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
