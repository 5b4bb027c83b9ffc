import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {onInterrupt} from '../core/cleanup.js'
import {OperationError} from '../core/errors.js'
import type {Redactor} from '../core/redact.js'
import {execGit} from './exec.js'
import {HARDENED_CONFIG} from './git.js'
import {authFromEnv} from './auth.js'
import {parseRemoteUrl} from './remote-url.js'
import type {Env} from '../platform/inputs.js'

/**
 * The history of a few files of a config repo, read without a full clone: a
 * private bare repository fetches the branch shallow and without blobs, and
 * is deepened step by step only while the walk needs older commits. File
 * contents arrive one blob at a time when they are read. A local repository
 * (-C inside a git work tree) is read in place, with nothing fetched.
 */
export interface HistoryCommit {
  sha: string
  parents: string[]
  subject: string
  /** The full message (trailers included). */
  message: string
}

export interface RemoteHistorySource {
  kind: 'remote'
  url: string
  /** The branch; undefined: the remote HEAD. */
  branch?: string
  gitConfig: Record<string, string>
}

export interface LocalHistorySource {
  kind: 'local'
  /** A directory inside a git work tree. */
  dir: string
}

/** Commits fetched first, then added per deepening (doubling). */
const FIRST_DEPTH = 20

export class FileHistory {
  private depth = FIRST_DEPTH
  private forget?: () => void
  /** The commit the walk starts from (the branch tip, or HEAD of the local repo). */
  tip = ''

  private constructor(
    private readonly dir: string,
    private readonly source: RemoteHistorySource | LocalHistorySource,
    private readonly redactor: Redactor,
    private readonly owned: boolean
  ) {}

  /**
   * `fetch: false` (remote only) creates the repository without fetching: the
   * first `refresh()` fetches. The ancestry check opens it that way, since
   * most waits never need the history.
   */
  static async open(
    source: RemoteHistorySource | LocalHistorySource,
    redactor: Redactor,
    o: {fetch?: boolean} = {}
  ): Promise<FileHistory> {
    if (source.kind === 'local') {
      const h = new FileHistory(source.dir, source, redactor, false)
      const top = await h.git(['rev-parse', '--show-toplevel'], true)
      if (top.code !== 0) {
        throw new OperationError(
          `-C ${source.dir} is not inside a git repository, so there is no history to roll back from; run rollback in a clone of the config repo, or use --repo`
        )
      }
      h.tip = (await h.git(['rev-parse', 'HEAD'])).stdout.trim()
      return h
    }
    const dir = await mkdtemp(join(tmpdir(), 'gitops-deploy-history-'))
    const h = new FileHistory(dir, source, redactor, true)
    h.forget = onInterrupt(() => rm(dir, {recursive: true, force: true}))
    try {
      await h.git(['init', '-q', '--bare'])
      // A named promisor remote: blobs the walk reads are fetched on demand.
      await h.git(['remote', 'add', 'origin', source.url])
      if (o.fetch !== false) await h.refresh()
      return h
    } catch (e) {
      await h.close()
      throw e
    }
  }

  private git(args: string[], allowFailure = false) {
    return execGit(args, {
      cwd: this.dir,
      config: {
        ...HARDENED_CONFIG,
        ...(this.source.kind === 'remote' ? this.source.gitConfig : {})
      },
      redactor: this.redactor,
      timeoutMs: 120_000,
      allowFailure
    })
  }

  private async fetch(extra: string[]): Promise<void> {
    const src = this.source as RemoteHistorySource
    const ref = src.branch ? `refs/heads/${src.branch}` : 'HEAD'
    const out = await this.git(
      [
        'fetch',
        '-q',
        '--filter=blob:none',
        '--no-tags',
        ...extra,
        'origin',
        `+${ref}:refs/gitops-deploy/tip`
      ],
      true
    )
    if (out.code !== 0) {
      const detail = out.stderr.trim().split('\n').slice(-2).join(' | ')
      throw new OperationError(
        `could not read the history of the config repo (${detail}); check --repo${src.branch ? ', --branch' : ''} and the token`
      )
    }
  }

  /**
   * Fetches the branch tip: the first time 20 commits deep, later only the
   * commits pushed since (the shallow end stays where it is). Remote only.
   */
  async refresh(): Promise<void> {
    await this.fetch(this.tip ? [] : ['--depth', String(FIRST_DEPTH)])
    this.tip = (await this.git(['rev-parse', 'refs/gitops-deploy/tip'])).stdout.trim()
  }

  /** `a` is `b` or an ancestor of it; undefined when either commit is not here. */
  async isAncestor(a: string, b: string): Promise<boolean | undefined> {
    const out = await this.git(['merge-base', '--is-ancestor', a, b], true)
    return out.code === 0 ? true : out.code === 1 ? false : undefined
  }

  /**
   * The remote's default branch (what HEAD and an empty targetRevision
   * follow), from one `ls-remote --symref`; undefined when it does not say.
   */
  async defaultBranch(): Promise<string | undefined> {
    const out = await this.git(['ls-remote', '--symref', 'origin', 'HEAD'], true)
    if (out.code !== 0) return undefined
    return /^ref: refs\/heads\/(\S+)\s+HEAD$/m.exec(out.stdout)?.[1]
  }

  /** The history is cut: older commits exist but are not here yet. */
  private async shallow(): Promise<boolean> {
    return (await this.git(['rev-parse', '--is-shallow-repository'])).stdout.trim() === 'true'
  }

  /**
   * Fetches older commits (twice as many as before); false when the whole
   * history is already here. A local shallow clone is deepened the same way.
   */
  async deepen(): Promise<boolean> {
    if (!(await this.shallow())) return false
    if (this.source.kind === 'local') {
      const out = await this.git(['fetch', '-q', '--deepen', String(this.depth)], true)
      this.depth *= 2
      return out.code === 0
    }
    await this.fetch(['--deepen', String(this.depth)])
    this.depth *= 2
    return true
  }

  /** Commits from the tip that changed `path`, newest first, as far as the history here goes. */
  async log(path: string): Promise<HistoryCommit[]> {
    const out = await this.git(['log', '-z', '--format=%H%x1f%P%x1f%s%x1f%B', this.tip, '--', path])
    return out.stdout
      .split('\0')
      .filter(Boolean)
      .map(rec => {
        const [sha, parents, subject, message] = rec.split('\x1f')
        return {sha, parents: parents.split(' ').filter(Boolean), subject, message}
      })
  }

  /** The text of `path` at `rev`; undefined when the file is not there. */
  async show(rev: string, path: string): Promise<string | undefined> {
    const listed = await this.git(['ls-tree', '--name-only', rev, '--', path], true)
    if (listed.code !== 0 || listed.stdout.trim() === '') return undefined
    // `rev:./path` is relative to the working directory: a local -C below the repository root.
    const spec = this.source.kind === 'local' ? `${rev}:./${path}` : `${rev}:${path}`
    return (await this.git(['show', spec])).stdout
  }

  /** Every file path at the tip (trees only). */
  async files(): Promise<string[]> {
    // Locally, paths relative to -C (git prints them relative to the working directory).
    const scope = this.source.kind === 'local' ? [] : ['--full-tree']
    const out = await this.git(['ls-tree', '-r', '-z', '--name-only', ...scope, this.tip])
    return out.stdout.split('\0').filter(Boolean)
  }

  /** Resolves a commit the user named (--to); undefined when it is not in the history here. */
  async resolve(rev: string): Promise<string | undefined> {
    const out = await this.git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], true)
    return out.code === 0 ? out.stdout.trim() : undefined
  }

  /** The first parent of `sha`, deepening while the history is cut there; undefined for a root commit. */
  async parent(sha: string): Promise<string | undefined> {
    for (;;) {
      const out = await this.git(['rev-parse', '--verify', '--quiet', `${sha}^1`], true)
      if (out.code === 0) return out.stdout.trim()
      if (!(await this.deepen())) return undefined
    }
  }

  async close(): Promise<void> {
    if (this.owned) await rm(this.dir, {recursive: true, force: true, maxRetries: 3})
    this.forget?.()
  }
}

/**
 * The history source of a config repo URL, authenticated like the push
 * (GITOPS_TOKEN as an extra header through GIT_CONFIG_*, never the URL).
 */
export function remoteHistorySource(
  repo: string,
  branch: string | undefined,
  env: Env,
  redactor: Redactor,
  cwd = process.cwd()
): RemoteHistorySource {
  const remote = parseRemoteUrl(repo, cwd)
  return {
    kind: 'remote',
    url: remote.url,
    ...(branch ? {branch} : {}),
    gitConfig: authFromEnv(remote, env, redactor).config
  }
}
