/**
 * Git plumbing for the API doubles: read trees and blobs of the real bare
 * repository they serve, and create commits in it the way a forge does
 * (no work tree, a private index, a compare-and-swap ref update), so what the
 * API wrote is what a later clone or API read sees.
 */
import {randomBytes} from 'node:crypto'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execGit} from '../../src/git/exec.js'

export interface LsEntry {
  mode: string
  type: 'blob' | 'tree' | 'commit'
  sha: string
  size?: number
  path: string
}

export async function revParse(gitDir: string, rev: string): Promise<string | undefined> {
  const out = await execGit(['rev-parse', '--verify', '-q', rev], {cwd: gitDir, allowFailure: true})
  return out.code === 0 ? out.stdout.trim() : undefined
}

/** `git ls-tree -l`; `path` ending in `/` lists that directory's entries. */
export async function lsTree(
  gitDir: string,
  rev: string,
  options: {path?: string; recursive?: boolean} = {}
): Promise<LsEntry[]> {
  const args = ['ls-tree', '-l', '-z']
  if (options.recursive) args.push('-r', '-t')
  args.push(rev)
  if (options.path) args.push('--', options.path)
  const out = await execGit(args, {cwd: gitDir, allowFailure: true})
  if (out.code !== 0) return []
  return out.stdout
    .split('\0')
    .filter(Boolean)
    .map(line => {
      const tab = line.indexOf('\t')
      const [mode, type, sha, size] = line.slice(0, tab).split(/\s+/)
      return {
        mode,
        type: type as LsEntry['type'],
        sha,
        ...(size && size !== '-' ? {size: Number(size)} : {}),
        path: line.slice(tab + 1)
      }
    })
}

export async function readBlob(gitDir: string, sha: string): Promise<Buffer | undefined> {
  const type = await execGit(['cat-file', '-t', sha], {cwd: gitDir, allowFailure: true})
  if (type.code !== 0 || type.stdout.trim() !== 'blob') return undefined
  // The fixtures hold text; execGit decodes stdout as UTF-8.
  const out = await execGit(['cat-file', 'blob', sha], {cwd: gitDir})
  return Buffer.from(out.stdout, 'utf8')
}

/** The last commit reachable from `rev` that touched `path` (GitLab's `last_commit_id`). */
export async function lastCommitFor(
  gitDir: string,
  rev: string,
  path: string
): Promise<string | undefined> {
  const out = await execGit(['log', '-1', '--format=%H', rev, '--', path], {
    cwd: gitDir,
    allowFailure: true
  })
  return out.stdout.trim() || undefined
}

export interface Identity {
  name: string
  email: string
}

/**
 * A commit on top of `parent` with `changes` applied (null content deletes);
 * modes of existing files are kept. The ref is not touched.
 */
export async function commitOnto(
  gitDir: string,
  parent: string,
  changes: {path: string; content: Buffer | null}[],
  message: string,
  author: Identity,
  committer: Identity = author
): Promise<string> {
  const tmp = await mkdtemp(join(tmpdir(), 'double-commit-'))
  try {
    const env = {GIT_INDEX_FILE: join(tmp, 'index')}
    await execGit(['read-tree', parent], {cwd: gitDir, env})
    const additions = changes.filter(c => c.content !== null)
    const files = additions.map((_, i) => join(tmp, `blob-${i}`))
    await Promise.all(additions.map((c, i) => writeFile(files[i], c.content!)))
    const shas = additions.length
      ? (
          await execGit(['hash-object', '-w', '--stdin-paths'], {
            cwd: gitDir,
            input: files.join('\n') + '\n'
          })
        ).stdout
          .trim()
          .split('\n')
      : []
    // Modes of just the touched paths: listing the whole tree would cost more than the commit.
    const touched = additions.map(c => c.path)
    const listed = touched.length
      ? (await execGit(['ls-tree', '-z', parent, '--', ...touched], {cwd: gitDir})).stdout
          .split('\0')
          .filter(Boolean)
      : []
    const existing = new Map(
      listed.map(line => [line.slice(line.indexOf('\t') + 1), line.split(' ')[0]])
    )
    const lines = additions.map(
      (c, i) => `${existing.get(c.path) ?? '100644'} ${shas[i]}\t${c.path}`
    )
    for (const c of changes) if (c.content === null) lines.push(`0 ${'0'.repeat(40)}\t${c.path}`)
    await execGit(['update-index', '--index-info'], {
      cwd: gitDir,
      env,
      input: lines.join('\n') + '\n'
    })
    const tree = (await execGit(['write-tree'], {cwd: gitDir, env})).stdout.trim()
    const who = {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: committer.name,
      GIT_COMMITTER_EMAIL: committer.email
    }
    return (
      await execGit(['commit-tree', tree, '-p', parent, '-F', '-'], {
        cwd: gitDir,
        env: who,
        input: message
      })
    ).stdout.trim()
  } finally {
    await rm(tmp, {recursive: true, force: true})
  }
}

/** Moves `branch` from `expected` to `commit`; false when someone else moved it first. */
export async function compareAndSwap(
  gitDir: string,
  branch: string,
  commit: string,
  expected: string
): Promise<boolean> {
  const out = await execGit(['update-ref', `refs/heads/${branch}`, commit, expected], {
    cwd: gitDir,
    allowFailure: true
  })
  return out.code === 0
}

/** A fake but well-formed node id. */
export function nodeId(prefix: string): string {
  return `${prefix}_${randomBytes(9).toString('base64url')}`
}
