import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {onInterrupt} from '../core/cleanup.js'
import type {Redactor} from '../core/redact.js'
import {execGit} from '../git/exec.js'
import {HARDENED_CONFIG} from '../git/git.js'

/**
 * "Is the revision Argo CD runs our commit or a later one?" Another pipeline
 * may push to the branch after us and Argo CD then syncs that commit, which
 * still carries our change. Answered from the branch's commit graph, fetched
 * once (commits only, no trees or blobs) into a private bare repository, and
 * fetched again when Argo CD shows a commit we have not seen yet.
 */
export interface AncestryOptions {
  /** The config repo URL (credentials never in it). */
  url: string
  /** The branch the commit went to; HEAD when unknown. */
  branch?: string
  /** Auth config for git (GIT_CONFIG_COUNT), as for the push. */
  gitConfig: Record<string, string>
  redactor: Redactor
  debug?: (message: string) => void
}

export class CommitAncestry {
  private readonly known = new Map<string, boolean>()
  private readonly pending = new Map<string, Promise<boolean>>()
  private dir?: Promise<string>
  private forget?: () => void

  constructor(
    readonly commit: string,
    private readonly o: AncestryOptions
  ) {
    this.known.set(commit.toLowerCase(), true)
  }

  /**
   * Synchronous view for the judge of a snapshot: a revision not known yet
   * counts as not ours for now, and is looked up in the background, so the
   * next read of the app (the next event or poll) judges it with the answer.
   */
  accepts(revision: string): boolean {
    const k = revision.toLowerCase()
    const v = this.known.get(k)
    if (v !== undefined) return v
    void this.check(k).catch(() => undefined)
    return false
  }

  /** Resolves whether `revision` is the commit or a descendant of it. */
  check(revision: string): Promise<boolean> {
    const k = revision.toLowerCase()
    const v = this.known.get(k)
    if (v !== undefined) return Promise.resolve(v)
    let p = this.pending.get(k)
    if (!p) {
      p = this.lookup(k).finally(() => this.pending.delete(k))
      this.pending.set(k, p)
    }
    return p
  }

  private git(dir: string, args: string[]) {
    return execGit(args, {
      cwd: dir,
      config: {...HARDENED_CONFIG, ...this.o.gitConfig},
      redactor: this.o.redactor,
      timeoutMs: 120_000,
      allowFailure: true
    })
  }

  private async repo(): Promise<string> {
    this.dir ??= (async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gitops-deploy-ancestry-'))
      this.forget = onInterrupt(() => rm(dir, {recursive: true, force: true}))
      await this.git(dir, ['init', '-q', '--bare'])
      return dir
    })()
    return this.dir
  }

  private async fetch(dir: string): Promise<boolean> {
    const ref = this.o.branch ? `refs/heads/${this.o.branch}` : 'HEAD'
    const out = await this.git(dir, [
      'fetch',
      '-q',
      '--filter=tree:0',
      '--no-tags',
      this.o.url,
      `+${ref}:refs/gitops-deploy/tip`
    ])
    if (out.code !== 0) {
      this.o.debug?.(`could not fetch the branch to check ancestry: ${out.stderr.trim()}`)
      return false
    }
    return true
  }

  private async isAncestor(dir: string, revision: string): Promise<boolean | undefined> {
    const out = await this.git(dir, ['merge-base', '--is-ancestor', this.commit, revision])
    if (out.code === 0) return true
    if (out.code === 1) return false
    return undefined // one of the commits is not here (yet)
  }

  private async lookup(revision: string): Promise<boolean> {
    const dir = await this.repo()
    let answer = await this.isAncestor(dir, revision)
    if (answer === undefined && (await this.fetch(dir)))
      answer = await this.isAncestor(dir, revision)
    // Still unknown: the revision is not on the branch (another branch, or rewritten history).
    const result = answer ?? false
    this.known.set(revision, result)
    return result
  }

  /**
   * The repository's default branch (what HEAD and an empty targetRevision
   * follow), from one `ls-remote --symref`; undefined when the server does not say.
   */
  async defaultBranch(): Promise<string | undefined> {
    const dir = await this.repo()
    const out = await this.git(dir, ['ls-remote', '--symref', this.o.url, 'HEAD'])
    if (out.code !== 0) return undefined
    return /^ref: refs\/heads\/(\S+)\s+HEAD$/m.exec(out.stdout)?.[1]
  }

  async close(): Promise<void> {
    if (!this.dir) return
    // A lookup started in the background may still be fetching into the directory.
    await Promise.allSettled([...this.pending.values()])
    const dir = await this.dir.catch(() => undefined)
    if (dir) {
      await rm(dir, {recursive: true, force: true, maxRetries: 3}).catch(e =>
        this.o.debug?.(`could not remove ${dir}: ${(e as Error).message}`)
      )
    }
    this.forget?.()
  }
}
