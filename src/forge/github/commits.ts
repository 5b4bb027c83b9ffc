import {randomBytes} from 'node:crypto'
import type {GitHubForge} from './pulls.js'
import {
  entryKind,
  type BranchApi,
  type CommitAttempt,
  type Comparison,
  type RemoteFile,
  type RepoApi,
  type TreeEntry,
  type Verification
} from '../repo-api.js'

/** Commits per compare page, and pages read before the list counts as cut short. */
const COMPARE_PAGE = 100
const COMPARE_PAGES = 5

/**
 * GitHub through its REST API (reads) and GraphQL `createCommitOnBranch`
 * (the commit). The commit is atomic and conditional on `expectedHeadOid`;
 * GitHub signs it when the token is the workflow's GITHUB_TOKEN or a GitHub
 * App installation token. The mutation has no author field: the commit is
 * authored by the token's identity.
 */
export class GitHubRepoApi implements BranchApi {
  readonly provider = 'github' as const
  readonly stats = {requests: 0}

  constructor(
    private readonly forge: GitHubForge,
    readonly where: string
  ) {}

  /** When this client's last write was sent (the pacing of GitHub's 1 s write gap). */
  private lastWrite = 0

  /**
   * Waits until this client may write again. Callers take the slot BEFORE
   * reading the branch tip they commit on: waiting after the read (inside the
   * throttled mutation) would send the commit on a tip up to a second old,
   * which under concurrent writers is already stale.
   */
  async writeSlot(): Promise<void> {
    const wait = this.lastWrite + this.forge.writeIntervalMs - Date.now()
    if (wait > 0) await new Promise<void>(r => setTimeout(r, wait))
  }

  private count<T>(p: Promise<T>): Promise<T> {
    this.stats.requests++
    return p
  }

  defaultBranch(): Promise<string> {
    return this.count(this.forge.getDefaultBranch())
  }

  branchHead(branch: string): Promise<string | undefined> {
    return this.count(this.forge.branchHead(branch))
  }

  async listDir(commit: string, dir: string): Promise<TreeEntry[] | undefined> {
    if (dir === '') {
      // The contents API has no path for the root; the commit's own tree is the root listing.
      const tree = await this.count(this.forge.getTree(commit, false))
      return tree.entries.map(toEntry)
    }
    const content = await this.count(this.forge.getContent(commit, dir))
    if (content?.kind !== 'dir') return undefined
    return content.entries.map(e => ({
      path: e.path,
      kind: CONTENT_KINDS[e.type] ?? 'file',
      sha: e.sha
    }))
  }

  async listTree(
    commit: string
  ): Promise<{kind: 'listed'; entries: TreeEntry[]} | {kind: 'truncated'}> {
    const tree = await this.count(this.forge.getTree(commit))
    if (tree.truncated) return {kind: 'truncated'}
    return {kind: 'listed', entries: tree.entries.map(toEntry)}
  }

  async readFile(commit: string, path: string, known?: TreeEntry): Promise<RemoteFile | undefined> {
    if (known?.kind === 'file' && known.sha) {
      return {
        kind: 'file',
        content: await this.count(this.forge.getBlob(known.sha)),
        sha: known.sha
      }
    }
    const content = await this.count(this.forge.getContent(commit, path))
    if (!content) return undefined
    if (content.kind === 'dir') return {kind: 'dir'}
    if (content.kind === 'file') {
      // Above 1 MB the contents API leaves the bytes out; the blob API serves up to 100 MB.
      const bytes = content.content ?? (await this.count(this.forge.getBlob(content.sha)))
      return {kind: 'file', content: bytes, sha: content.sha}
    }
    return {kind: 'link'}
  }

  async commit(input: Parameters<RepoApi['commit']>[0]): Promise<CommitAttempt> {
    const [headline, ...rest] = input.message.replace(/\n+$/, '').split('\n')
    this.lastWrite = Date.now()
    return this.count(
      this.forge.createCommitOnBranch({
        branch: input.branch,
        expectedHeadOid: input.parent,
        headline,
        body: rest.join('\n').replace(/^\n+/, ''),
        additions: input.writes.map(w => ({path: w.path, contents: w.content}))
      })
    )
  }

  async compare(base: string, head: string): Promise<Comparison> {
    const first = await this.count(this.forge.compare(base, head, 1, COMPARE_PAGE))
    const commits = [...first.commits]
    for (let page = 2; commits.length < first.aheadBy && page <= COMPARE_PAGES; page++) {
      const next = await this.count(this.forge.compare(base, head, page, COMPARE_PAGE))
      if (next.commits.length === 0) break
      commits.push(...next.commits)
    }
    return {
      containsBase: first.behindBy === 0,
      commits: commits.map(c => ({sha: c.sha, author: c.author, message: c.message})),
      complete: commits.length >= first.aheadBy,
      // GitHub lists at most 300 files; a cut list proves nothing about the rest.
      ...(first.files && first.files.length < 300
        ? {
            files: first.files.map(f => ({
              path: f.path,
              sha: f.sha,
              removed: f.status === 'removed'
            }))
          }
        : {})
    }
  }

  /**
   * A new branch is created at the parent and committed on with
   * createCommitOnBranch (both steps conditional). An existing branch is not
   * reset to the parent first: GitHub closes an open pull request whose head
   * has no commits left, for good. The commit is built on a scratch branch
   * instead and the head moved onto it in one ref update. REST ref updates
   * have no compare-and-swap, so the head is read again right before the
   * move; a foreign push in the one round trip between is the remaining race.
   */
  async replaceBranch(input: Parameters<BranchApi['replaceBranch']>[0]): Promise<CommitAttempt> {
    const {branch, parent, expected} = input
    if (expected === undefined) {
      if (!(await this.count(this.forge.createBranchRef(branch, parent)))) {
        return {kind: 'stale', detail: `branch ${branch} was created by another writer meanwhile`}
      }
      const made = await this.commit(input)
      // Leave nothing behind when the commit cannot be made at all (the git fallback starts clean).
      if (made.kind === 'unavailable' || made.kind === 'rejected') await this.dropAt(branch, parent)
      return made
    }
    const scratch = `${branch}.gitops-deploy-${randomBytes(4).toString('hex')}`
    if (!(await this.count(this.forge.createBranchRef(scratch, parent)))) {
      return {kind: 'stale', detail: `scratch branch ${scratch} exists already`}
    }
    try {
      const made = await this.commit({...input, branch: scratch})
      if (made.kind !== 'committed') return made
      const now = await this.branchHead(branch)
      if (now !== expected) {
        return {
          kind: 'stale',
          detail: `${branch} moved from ${expected.slice(0, 12)} to ${now ? now.slice(0, 12) : '(deleted)'} while the commit was made`
        }
      }
      await this.count(this.forge.forceBranchRef(branch, made.commit))
      return made
    } finally {
      await this.count(this.forge.deleteBranchRef(scratch)).catch(() => undefined)
    }
  }

  private async dropAt(branch: string, sha: string): Promise<void> {
    if ((await this.branchHead(branch)) === sha)
      await this.count(this.forge.deleteBranchRef(branch)).catch(() => undefined)
  }

  verification(commit: string): Promise<Verification | undefined> {
    return this.count(this.forge.commitVerification(commit))
  }
}

function toEntry(e: {path: string; type: string; mode: string; sha: string}): TreeEntry {
  return {path: e.path, kind: entryKind(e.type, e.mode), sha: e.sha}
}

/** The contents API names kinds instead of giving types and modes. */
const CONTENT_KINDS: Record<string, TreeEntry['kind']> = {
  dir: 'dir',
  symlink: 'link',
  submodule: 'submodule'
}
