import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execGit} from '../../src/git/exec.js'

/**
 * Real repositories for the `changes` tests, written with `git fast-import` so
 * a 500-commit history or a 5,000-file commit takes milliseconds, then served
 * to depth-1 clones over file:// (where `git fetch --deepen` works for real).
 */
export interface CommitSpec {
  /** Branch the commit lands on; default main. */
  ref?: string
  /** Parent: index of an earlier commit in the same import, or a sha. Default: the ref's tip. */
  from?: number | string
  /** Second parent (a merge). */
  merge?: number | string
  /** path -> content; null deletes. */
  files?: Record<string, string | null>
  /** Start from an empty tree instead of the parent's (for whole-tree rewrites). */
  message?: string
}

const IDENT = 'Test <test@example.com>'
let clock = 1_700_000_000

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const out = await execGit(args, {cwd})
  return out.stdout.trim()
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `gitops-changes-${prefix}-`))
}

export function remove(dir: string): void {
  rmSync(dir, {recursive: true, force: true})
}

function data(text: string): string {
  return `data ${Buffer.byteLength(text)}\n${text}\n`
}

/**
 * Imports commits into `repo` (bare or not) and returns their shas in order.
 * Refs move with `--force`, so a spec may rewrite a branch (force push).
 */
export async function importCommits(repo: string, commits: CommitSpec[]): Promise<string[]> {
  const parts: string[] = []
  const parent = (p: number | string) => (typeof p === 'number' ? `:${p + 1}` : p)
  commits.forEach((c, i) => {
    const ref = c.ref?.startsWith('refs/') ? c.ref : `refs/heads/${c.ref ?? 'main'}`
    clock += 60
    parts.push(`commit ${ref}\nmark :${i + 1}\ncommitter ${IDENT} ${clock} +0000\n`)
    parts.push(data(c.message ?? `commit ${i + 1}`))
    if (c.from !== undefined) parts.push(`from ${parent(c.from)}\n`)
    if (c.merge !== undefined) parts.push(`merge ${parent(c.merge)}\n`)
    for (const [path, content] of Object.entries(c.files ?? {})) {
      if (content === null) parts.push(`D ${path}\n`)
      else parts.push(`M 100644 inline ${path}\n${data(content)}`)
    }
    parts.push('\n')
  })
  const marks = join(tempDir('marks'), 'marks')
  await execGit(['fast-import', '--quiet', '--force', `--export-marks=${marks}`], {
    cwd: repo,
    input: parts.join('')
  })
  const byMark = new Map<string, string>()
  for (const line of readFileSync(marks, 'utf8').split('\n')) {
    const [mark, sha] = line.split(' ')
    if (mark && sha) byMark.set(mark, sha)
  }
  remove(join(marks, '..'))
  return commits.map((_, i) => byMark.get(`:${i + 1}`)!)
}

export interface Fixture {
  dir: string
  upstream: string
  url: string
  /** Clones the upstream at `ref` with the given depth into a fresh directory. */
  clone(options?: {depth?: number; branch?: string}): Promise<string>
  /** What actions/checkout does for a pull request: fetch one commit at depth 1, detached. */
  checkout(sha: string): Promise<string>
  cleanup(): void
}

export async function fixture(commits: CommitSpec[]): Promise<Fixture & {shas: string[]}> {
  const dir = tempDir('repo')
  const upstream = join(dir, 'upstream.git')
  await execGit(['init', '--quiet', '--bare', '-b', 'main', upstream], {cwd: dir})
  const shas = commits.length > 0 ? await importCommits(upstream, commits) : []
  const url = `file://${upstream}`
  let n = 0
  return {
    dir,
    upstream,
    url,
    shas,
    async clone(options = {}) {
      const target = join(dir, `clone-${++n}`)
      const args = ['clone', '--quiet', '--no-tags']
      if (options.depth) args.push(`--depth=${options.depth}`)
      if (options.branch) args.push('--branch', options.branch)
      await execGit([...args, url, target], {cwd: dir})
      return target
    },
    async checkout(sha) {
      const target = join(dir, `checkout-${++n}`)
      await execGit(['init', '--quiet', target], {cwd: dir})
      await execGit(['remote', 'add', 'origin', url], {cwd: target})
      await execGit(['fetch', '--quiet', '--no-tags', '--depth=1', 'origin', sha], {cwd: target})
      await execGit(['checkout', '--quiet', '--detach', sha], {cwd: target})
      return target
    },
    cleanup: () => remove(dir)
  }
}

/** Writes a GitHub event payload and returns the environment a runner would set. */
export function githubEnv(
  dir: string,
  event: string,
  payload: unknown,
  extra: Record<string, string> = {}
): Record<string, string> {
  const path = join(dir, `event-${event}-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(path, JSON.stringify(payload))
  return {GITHUB_ACTIONS: 'true', GITHUB_EVENT_NAME: event, GITHUB_EVENT_PATH: path, ...extra}
}

/** `n` files under `prefix`, for large-change commits. */
export function manyFiles(prefix: string, n: number, content = 'x'): Record<string, string> {
  const files: Record<string, string> = {}
  for (let i = 0; i < n; i++) files[`${prefix}/file-${i}.txt`] = `${content} ${i}\n`
  return files
}
