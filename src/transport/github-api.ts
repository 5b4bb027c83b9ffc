import type {GitHubForge} from '../forge/github.js'
import {
  entryKind,
  type CommitAttempt,
  type RemoteFile,
  type RepoApi,
  type TreeEntry,
  type Verification
} from './transport.js'

/**
 * GitHub through its REST API (reads) and GraphQL `createCommitOnBranch`
 * (the commit). The commit is atomic and conditional on `expectedHeadOid`;
 * GitHub signs it when the token is the workflow's GITHUB_TOKEN or a GitHub
 * App installation token. The mutation has no author field: the commit is
 * authored by the token's identity.
 */
export class GitHubRepoApi implements RepoApi {
  readonly provider = 'github' as const
  readonly stats = {requests: 0}

  constructor(
    private readonly forge: GitHubForge,
    readonly where: string
  ) {}

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
