import {basename, dirname, posix} from 'node:path'
import {OperationError} from '../core/errors.js'
import type {Redactor} from '../core/redact.js'
import {execGit, type GitExecOptions, type GitOutput} from './exec.js'
import {
  classifyPush,
  classifyRemoteFailure,
  type PushResult,
  type RemoteFailure
} from './push-result.js'

/**
 * 2.35: `sparse-checkout set --cone --stdin` and `add --sparse`; GIT_CONFIG_COUNT
 * (our only channel for auth config) needs 2.31 anyway.
 */
export const MIN_GIT_VERSION: readonly [number, number, number] = [2, 35, 0]

export interface Identity {
  name: string
  email: string
}

export interface GitContext {
  redactor: Redactor
  /** Extra config for every git child (auth headers), via GIT_CONFIG_COUNT. */
  config?: Record<string, string>
  env?: Record<string, string | undefined>
  /** Per network operation; a dead server must not hang a CI job. */
  networkTimeoutMs?: number
  debug?: (message: string) => void
}

export type CloneResult =
  | {kind: 'cloned'; branch: string; commit: string}
  | {kind: 'empty'}
  | {kind: 'failed'; failure: RemoteFailure}

export type FetchResult =
  {kind: 'fetched'; commit: string} | {kind: 'failed'; failure: RemoteFailure}

/**
 * Settings that keep a throwaway clone predictable whatever the user's global
 * config says: no hooks, no signing prompts, no background maintenance, no
 * line-ending rewrites of the bytes we edit.
 */
export const HARDENED_CONFIG: Record<string, string> = {
  'core.hooksPath': '/dev/null',
  'core.autocrlf': 'false',
  'core.safecrlf': 'false',
  'core.fsmonitor': 'false',
  'commit.gpgSign': 'false',
  'gc.auto': '0',
  'maintenance.auto': 'false',
  'fetch.writeCommitGraph': 'false',
  'advice.detachedHead': 'false',
  'init.defaultBranch': 'main',
  'protocol.version': '2',
  // Abort a transfer that has stalled for a minute instead of waiting for the job timeout.
  'http.lowSpeedLimit': '1',
  'http.lowSpeedTime': '60'
}

let versionCheck: Promise<string> | undefined

/**
 * One repository on disk, driven through the exec funnel. Methods are named
 * for what the caller wants and return domain results.
 */
export class Git {
  private constructor(
    readonly dir: string,
    private readonly ctx: GitContext
  ) {}

  /** Checks the installed git once per process, then binds to `dir` (which may not exist yet). */
  static async create(dir: string, ctx: GitContext): Promise<Git> {
    versionCheck ??= Git.checkVersion(ctx.redactor)
    await versionCheck
    return new Git(dir, ctx)
  }

  private static async checkVersion(redactor: Redactor): Promise<string> {
    const out = await execGit(['version'], {cwd: process.cwd(), redactor})
    const m = /git version (\d+)\.(\d+)\.(\d+)/.exec(out.stdout)
    if (!m) throw new OperationError(`could not read the git version from '${out.stdout.trim()}'`)
    const have = [Number(m[1]), Number(m[2]), Number(m[3])]
    for (let i = 0; i < 3; i++) {
      if (have[i] > MIN_GIT_VERSION[i]) break
      if (have[i] < MIN_GIT_VERSION[i]) {
        throw new OperationError(
          `git ${have.join('.')} is too old; install git ${MIN_GIT_VERSION.join('.')} or newer (sparse checkout and config-by-environment need it)`
        )
      }
    }
    return have.join('.')
  }

  private run(
    args: string[],
    options: Partial<GitExecOptions> & {network?: boolean} = {}
  ): Promise<GitOutput> {
    const {network, ...rest} = options
    this.ctx.debug?.(`git ${args.join(' ')}`)
    return execGit(args, {
      cwd: this.dir,
      redactor: this.ctx.redactor,
      env: this.ctx.env,
      config: {...HARDENED_CONFIG, ...this.ctx.config},
      timeoutMs: network ? (this.ctx.networkTimeoutMs ?? 600_000) : 120_000,
      ...rest
    })
  }

  /**
   * Shallow (one commit), blobless, single-branch clone without a checkout:
   * what it transfers is one commit and its trees, whatever the history
   * length. File contents arrive later, only for the sparse set.
   */
  async cloneForEdit(url: string, branch?: string): Promise<CloneResult> {
    const args = ['clone', '--quiet', '--depth', '1', '--filter=blob:none', '--no-checkout']
    args.push('--sparse', '--single-branch', '--no-tags')
    if (branch) args.push('--branch', branch)
    args.push('--', url, basename(this.dir))
    const out = await this.run(args, {cwd: dirname(this.dir), allowFailure: true, network: true})
    if (out.code !== 0)
      return {kind: 'failed', failure: classifyRemoteFailure(out.stderr, out.timedOut)}
    // One rev-parse both tells an empty repository apart and gives the commit.
    const commit = await this.run(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], {
      allowFailure: true
    })
    if (commit.code !== 0) return {kind: 'empty'}
    const head = await this.run(['symbolic-ref', '--quiet', '--short', 'HEAD'], {
      allowFailure: true
    })
    return {
      kind: 'cloned',
      branch: head.stdout.trim() || branch || 'HEAD',
      commit: commit.stdout.trim()
    }
  }

  /** Every file path in `rev`'s tree; reads trees only, so no blob is fetched. */
  async listFiles(rev: string): Promise<string[]> {
    const out = await this.run(['ls-tree', '-r', '-z', '--name-only', '--full-tree', rev])
    return out.stdout.split('\0').filter(Boolean)
  }

  /**
   * Checks out `commit` with only `dirs` (recursively) plus top-level files
   * present; blobs for them are fetched in one batch. An empty string in
   * `dirs` means the whole tree; `undefined` keeps the current sparse set.
   */
  async checkoutSparse(commit: string, dirs: string[] | undefined): Promise<void> {
    if (dirs?.includes('')) await this.run(['sparse-checkout', 'disable'], {network: true})
    else if (dirs) {
      await this.run(['sparse-checkout', 'set', '--cone', '--stdin'], {
        input: dirs.join('\n') + '\n',
        network: true
      })
    }
    await this.run(['reset', '--quiet', '--hard', commit], {network: true})
  }

  /**
   * Where the symlinks under `dirs` at `rev` point, as repository paths
   * (targets outside the repository are left out: the writer refuses them).
   * A link into a directory outside the sparse set would otherwise dangle in
   * the checkout and read as a missing file. Reads the link blobs only.
   */
  async symlinkTargets(rev: string, dirs: string[]): Promise<string[]> {
    if (dirs.length === 0 || dirs.includes('')) return []
    const tree = await this.run(['ls-tree', '-r', '-z', '--full-tree', rev, '--', ...dirs])
    const links = tree.stdout
      .split('\0')
      .map(line => /^120000 blob ([0-9a-f]+)\t(.+)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
    const targets: string[] = []
    for (const [, blob, path] of links) {
      const target = (await this.run(['cat-file', 'blob', blob], {network: true})).stdout
      if (target.startsWith('/')) continue
      const resolved = posix.normalize(posix.join(posix.dirname(path), target))
      if (resolved === '..' || resolved.startsWith('../')) continue
      targets.push(resolved === '.' ? '' : resolved)
    }
    return targets
  }

  /** Fetches the branch's current tip (one commit deep, trees only). */
  async fetchTip(branch: string): Promise<FetchResult> {
    const ref = `refs/remotes/origin/${branch}`
    const out = await this.run(
      ['fetch', '--quiet', '--depth', '1', '--no-tags', 'origin', `+refs/heads/${branch}:${ref}`],
      {allowFailure: true, network: true}
    )
    if (out.code !== 0)
      return {kind: 'failed', failure: classifyRemoteFailure(out.stderr, out.timedOut)}
    return {kind: 'fetched', commit: await this.commitOf(ref)}
  }

  /** Stages `files` and commits them; returns the new commit, or null when nothing differs. */
  async commitFiles(files: string[], message: string, author: Identity): Promise<string | null> {
    if (files.length === 0) return null
    await this.run(['add', '--sparse', '--', ...files])
    await this.refuseNewSymlinks()
    const who = {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: author.name,
      GIT_COMMITTER_EMAIL: author.email
    }
    // No pre-check: `commit` itself says when the bytes did not change.
    const out = await this.run(
      ['commit', '--quiet', '--no-verify', '--cleanup=whitespace', '-F', '-'],
      {
        input: message,
        env: {...this.ctx.env, ...who},
        allowFailure: true
      }
    )
    if (out.code !== 0) {
      if (/nothing to commit|no changes added to commit/.test(out.stdout + out.stderr)) return null
      throw new OperationError(`git commit failed: ${out.stderr.trim() || out.stdout.trim()}`)
    }
    return this.commitOf('HEAD')
  }

  /**
   * Edits write file contents, never links: a staged path that became a
   * symlink (or appeared as one) means something outside our writer swapped
   * it, for example a planted temporary name; pushing it would publish a
   * link to wherever it points.
   */
  private async refuseNewSymlinks(): Promise<void> {
    const diff = (base: string) =>
      this.run(['diff', '--cached', '--raw', '-z', '--no-renames', base, '--'], {
        allowFailure: true
      })
    let out = await diff('HEAD')
    // An empty repository has no HEAD yet: compare with the empty tree.
    if (out.code !== 0) out = await diff('4b825dc642cb6eb9a060e54bf8d69288fbee4904')
    const fields = out.stdout.split('\0')
    const bad: string[] = []
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const m = /^:(\d{6}) (\d{6}) /.exec(fields[i])
      if (m && m[2] === '120000' && m[1] !== '120000') bad.push(fields[i + 1])
    }
    if (bad.length > 0) {
      throw new OperationError(
        `refusing to commit ${bad.join(', ')}: it became a symbolic link during the edit, which no edit does; nothing was pushed. Check the config repo for planted links and run again`
      )
    }
  }

  /** Pushes HEAD to `branch` without force; the result says whether and why it was refused. */
  async pushHead(branch: string): Promise<PushResult> {
    // No --quiet: it would also hide the `=` line that tells an identical concurrent push apart.
    const out = await this.run(
      ['push', '--porcelain', '--no-verify', 'origin', `HEAD:refs/heads/${branch}`],
      {allowFailure: true, network: true}
    )
    return classifyPush(out)
  }

  /**
   * Asks the remote where `branch` points. Used after a connection dropped
   * mid-push, when only the server knows whether the update happened.
   */
  async remoteBranchCommit(
    branch: string
  ): Promise<{kind: 'at'; commit: string | null} | {kind: 'failed'; failure: RemoteFailure}> {
    const out = await this.run(['ls-remote', '--heads', 'origin', `refs/heads/${branch}`], {
      allowFailure: true,
      network: true,
      timeoutMs: 30_000
    })
    if (out.code !== 0)
      return {kind: 'failed', failure: classifyRemoteFailure(out.stderr, out.timedOut)}
    const line = out.stdout.split('\n').find(l => l.endsWith(`\trefs/heads/${branch}`))
    return {kind: 'at', commit: line ? line.split('\t')[0] : null}
  }

  async commitOf(rev: string): Promise<string> {
    const out = await this.run(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`])
    return out.stdout.trim()
  }
}
