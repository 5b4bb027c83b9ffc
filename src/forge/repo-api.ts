/**
 * The commit transport: how an edit reaches the config repo. `git` clones,
 * commits and pushes (src/git/remote-write.ts); `api` reads the files it needs
 * and creates the commit through the forge's API, which on GitHub gives
 * verified (signed) commits and on both forges costs a handful of requests
 * whatever the size of the repository.
 */
import type {ProviderKind} from './provider.js'
import type {Identity} from '../git/git.js'

export type TransportKind = 'git' | 'api'
export type TransportChoice = TransportKind | 'auto'

export const TRANSPORT_CHOICES: readonly TransportChoice[] = ['git', 'api', 'auto']

/** One entry of a remote tree listing; paths are repo-relative with `/`. */
export interface TreeEntry {
  path: string
  kind: 'file' | 'dir' | 'link' | 'submodule'
  /** Blob sha for files (GitHub reads blobs by it). */
  sha?: string
}

export type RemoteFile =
  | {kind: 'file'; content: Buffer; sha?: string; lastCommitId?: string}
  | {kind: 'dir'}
  | {kind: 'link'}

/** A file the commit writes, with what the forge needs to detect a conflicting writer. */
export interface PreparedWrite {
  path: string
  content: Buffer
  /** The file exists at the snapshot (GitLab: `update`, else `create`). */
  exists: boolean
  /** GitLab: the last commit that touched the file, as read. */
  lastCommitId?: string
}

export type CommitAttempt =
  | {kind: 'committed'; commit: string}
  /** Another writer got there first (branch moved / file changed): re-read and re-apply. */
  | {kind: 'stale'; detail: string}
  /** Refused for good (protection rules, …). */
  | {kind: 'rejected'; reason: 'protected' | 'other'; detail: string}
  /** The forge cannot do API commits (GHES without GraphQL's createCommitOnBranch). */
  | {kind: 'unavailable'; detail: string}

export interface Verification {
  verified: boolean
  /** GitHub's `verification.reason` (`valid`, `unsigned`, …) or GitLab's status. */
  reason: string
}

/** The forge operations the API transport needs; one implementation per provider. */
export interface RepoApi {
  readonly provider: ProviderKind
  /** For messages: `https://api.github.com (acme/config)`. */
  readonly where: string
  /** Requests made so far (the benchmark counts round trips). */
  readonly stats: {requests: number}
  defaultBranch(): Promise<string>
  branchHead(branch: string): Promise<string | undefined>
  /** Direct entries of `dir` ('' = root) at `commit`; undefined when it does not exist. */
  listDir(commit: string, dir: string): Promise<TreeEntry[] | undefined>
  /** Every entry of the tree; `truncated` when the forge cut it short. */
  listTree(commit: string): Promise<{kind: 'listed'; entries: TreeEntry[]} | {kind: 'truncated'}>
  /** `known` is the entry from a listing, when there was one (saves a request on GitHub). */
  readFile(commit: string, path: string, known?: TreeEntry): Promise<RemoteFile | undefined>
  commit(input: {
    branch: string
    parent: string
    message: string
    author: Identity
    writes: PreparedWrite[]
  }): Promise<CommitAttempt>
  /** Undefined when the forge cannot say. */
  verification(commit: string): Promise<Verification | undefined>
  /** Waits for the forge's write pacing, when it has one; called before reading the tip to commit on. */
  writeSlot?(): Promise<void>
}

/** The kind of a git tree entry as both forges list it (`type` blob/tree/commit, `mode`). */
export function entryKind(type: string, mode: string): TreeEntry['kind'] {
  if (type === 'tree') return 'dir'
  if (type === 'commit') return 'submodule'
  return mode === '120000' ? 'link' : 'file'
}

/** A commit on a PR branch, as the foreign-commit check reads it. */
export interface BranchCommit {
  sha: string
  /** `Name <email>` */
  author: string
  message: string
}

/** How a PR branch relates to its base, from the forge's compare API. */
export interface Comparison {
  /** The head contains the base tip (nothing to rebase onto). */
  containsBase: boolean
  /** Commits on the head that are not on the base, oldest first. */
  commits: BranchCommit[]
  /** False when the forge listed fewer commits than there are: nothing may be concluded about the rest. */
  complete: boolean
  /** Paths that differ from the merge base, with the head's blob sha where the forge gives it; undefined when cut short. */
  files?: {path: string; sha?: string; removed: boolean}[]
}

/** The forge operations a PR branch written through the API needs, on top of RepoApi. */
export interface BranchApi extends RepoApi {
  compare(base: string, head: string): Promise<Comparison>
  /**
   * Makes `branch` point at a new commit `parent + writes`. `expected` is the
   * tip we inspected (undefined: the branch must not exist yet); when the
   * branch is elsewhere by now the answer is `stale`.
   */
  replaceBranch(input: {
    branch: string
    parent: string
    expected?: string
    message: string
    author: Identity
    writes: PreparedWrite[]
  }): Promise<CommitAttempt>
}

/** A new content for one file, as a planner produces it. */
export interface FileWrite {
  path: string
  content: Buffer
}

/**
 * The API cannot do this job (or not safely): with `--transport auto` the git
 * transport takes over, nothing having been written; with `--transport api`
 * it is a usage error.
 */
export class TransportUnavailable extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TransportUnavailable'
  }
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/')
  return i < 0 ? '' : path.slice(0, i)
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

/**
 * A read-only view of one commit, reading lazily and once. Blob contents are
 * shared across attempts through `blobs` (keyed by sha), so a retry after a
 * lost race downloads only what changed.
 */
export class RemoteView {
  private readonly dirs = new Map<string, Promise<TreeEntry[] | undefined>>()
  private readonly files = new Map<string, Promise<RemoteFile | undefined>>()
  private tree?: Promise<TreeEntry[]>

  constructor(
    readonly api: RepoApi,
    readonly commit: string,
    private readonly blobs: Map<string, Buffer> = new Map()
  ) {}

  listDir(dir: string): Promise<TreeEntry[] | undefined> {
    const key = dir === '.' ? '' : dir
    let p = this.dirs.get(key)
    if (!p) {
      p = this.tree
        ? this.tree.then(all => {
            const inside = all.filter(e => parentOf(e.path) === key)
            return key === '' || all.some(e => e.path === key && e.kind === 'dir')
              ? inside
              : undefined
          })
        : this.api.listDir(this.commit, key)
      this.dirs.set(key, p)
    }
    return p
  }

  /** The whole tree; throws TransportUnavailable when the forge truncates it. */
  listTree(): Promise<TreeEntry[]> {
    this.tree ??= this.api.listTree(this.commit).then(r => {
      if (r.kind === 'truncated') {
        throw new TransportUnavailable(
          `${this.api.where} truncated the tree listing of ${this.commit.slice(0, 12)} (too many files for one response)`
        )
      }
      return r.entries
    })
    return this.tree
  }

  /** The entry for `path` from a listing already made (or made now, of its directory). */
  async entry(path: string): Promise<TreeEntry | undefined> {
    const entries = this.tree ? await this.tree : await this.listDir(parentOf(path))
    return entries?.find(e => e.path === path)
  }

  read(path: string, known?: TreeEntry): Promise<RemoteFile | undefined> {
    let p = this.files.get(path)
    if (!p) {
      p = this.readUncached(path, known)
      this.files.set(path, p)
    }
    return p
  }

  private async readUncached(path: string, known?: TreeEntry): Promise<RemoteFile | undefined> {
    if (known?.kind === 'link') return {kind: 'link'}
    if (known?.kind === 'dir') return {kind: 'dir'}
    const cached = known?.sha ? this.blobs.get(known.sha) : undefined
    // GitLab needs the per-file last commit, so it always reads through its files API.
    if (cached && this.api.provider === 'github')
      return {kind: 'file', content: cached, sha: known!.sha}
    const file = await this.api.readFile(this.commit, path, known)
    if (file?.kind === 'file' && file.sha) this.blobs.set(file.sha, file.content)
    return file
  }

  /** Resolves what the commit needs per write: does the file exist, and its last commit. */
  async prepare(writes: FileWrite[]): Promise<PreparedWrite[]> {
    return Promise.all(
      writes.map(async w => {
        if (this.tree) {
          // A write below a symlinked directory would land somewhere else than the edit meant.
          const all = await this.tree
          for (let d = parentOf(w.path); d; d = parentOf(d)) {
            if (all.some(e => e.path === d && e.kind !== 'dir')) {
              throw new TransportUnavailable(
                `${w.path} lies below ${d}, which is not a directory in the repository (a symlink?)`
              )
            }
          }
        }
        // A file the plan read is known to exist; only unread paths need a listing.
        const read = this.files.get(w.path)
        const entry = read ? undefined : await this.entry(w.path)
        if (!read && !entry) return {path: w.path, content: w.content, exists: false}
        if (entry && entry.kind !== 'file') {
          throw new TransportUnavailable(
            `${w.path} is a ${entry.kind === 'link' ? 'symlink' : entry.kind} in the repository; the API transport writes regular files only`
          )
        }
        const file = await (read ?? this.read(w.path, entry))
        if (!file) return {path: w.path, content: w.content, exists: false}
        if (file.kind !== 'file') {
          throw new TransportUnavailable(
            `${w.path} is a ${file.kind === 'link' ? 'symlink' : 'directory'} in the repository; the API transport writes regular files only`
          )
        }
        return {
          path: w.path,
          content: w.content,
          exists: true,
          ...(file?.kind === 'file' && file.lastCommitId ? {lastCommitId: file.lastCommitId} : {})
        }
      })
    )
  }
}

export {baseName, parentOf}
