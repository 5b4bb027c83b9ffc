import type {Redactor} from '../core/redact.js'
import {FileHistory, type RemoteHistorySource} from '../git/file-history.js'

/**
 * "Is the revision Argo CD runs our commit or a later one?" Another pipeline
 * may push to the branch after us and Argo CD then syncs that commit, which
 * still carries our change. Answered from the branch's history, read the way
 * rollback reads it (git/file-history.ts: a private bare repository, shallow
 * and blobless), fetched only when a revision is not known already, and again
 * when Argo CD shows a commit pushed after the last fetch.
 */
export interface AncestryOptions {
  /** The config repo and branch, with the push's credentials. */
  source: RemoteHistorySource
  redactor: Redactor
  /** Commits known not to include ours (the tip our commit was made on), so no fetch is needed for them. */
  older?: string[]
  debug?: (message: string) => void
}

export class CommitAncestry {
  private readonly known = new Map<string, boolean>()
  private readonly pending = new Map<string, Promise<boolean>>()
  private history?: Promise<FileHistory>

  constructor(
    readonly commit: string,
    private readonly o: AncestryOptions
  ) {
    for (const c of o.older ?? []) this.known.set(c.toLowerCase(), false)
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

  /** The repository's default branch; the history is created, nothing is fetched for it. */
  async defaultBranch(): Promise<string | undefined> {
    return (await this.open()).defaultBranch()
  }

  private open(): Promise<FileHistory> {
    this.history ??= FileHistory.open(this.o.source, this.o.redactor, {fetch: false})
    return this.history
  }

  private async lookup(revision: string): Promise<boolean> {
    const h = await this.open()
    let answer = await h.isAncestor(this.commit, revision)
    if (answer === undefined) {
      // Not here yet: fetch what was pushed since, then reach back until our commit is here too.
      try {
        await h.refresh()
      } catch (e) {
        this.o.debug?.(`could not fetch the branch to check ancestry: ${(e as Error).message}`)
      }
      answer = await h.isAncestor(this.commit, revision)
      while (answer === undefined && (await h.deepen().catch(() => false))) {
        answer = await h.isAncestor(this.commit, revision)
      }
    }
    // Still unknown: the revision is not on the branch (another branch, or rewritten history).
    const result = answer ?? false
    this.known.set(revision, result)
    return result
  }

  async close(): Promise<void> {
    if (!this.history) return
    // A lookup started in the background may still be fetching into the directory.
    await Promise.allSettled([...this.pending.values()])
    const h = await this.history.catch(() => undefined)
    await h
      ?.close()
      .catch(e => this.o.debug?.(`could not remove the history: ${(e as Error).message}`))
  }
}
