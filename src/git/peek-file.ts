import {mkdtemp, rm} from 'node:fs/promises'
import {onInterrupt} from '../core/cleanup.js'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {OperationError} from '../core/errors.js'
import type {Redactor} from '../core/redact.js'
import {execGit} from './exec.js'
import {HARDENED_CONFIG} from './git.js'

export interface PeekInput {
  url: string
  branch?: string
  /** Repo-relative path of the file to read. */
  path: string
  gitConfig: Record<string, string>
  redactor: Redactor
}

/**
 * Reads one file at the tip of a remote branch without a checkout (promote's
 * PR mode needs the target environment's NAME for the branch name before the
 * checkout exists, and with `--next` only the config knows it). Costs one
 * shallow, tree-only fetch plus one blob; `undefined` when the file is absent.
 */
export async function peekFile(input: PeekInput): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'gitops-deploy-peek-'))
  const forget = onInterrupt(() => rm(dir, {recursive: true, force: true}))
  const git = (args: string[], allowFailure = false) =>
    execGit(args, {
      cwd: dir,
      config: {...HARDENED_CONFIG, ...input.gitConfig},
      redactor: input.redactor,
      timeoutMs: 120_000,
      allowFailure
    })
  try {
    await git(['init', '-q'])
    // A named remote makes the partial clone lazy-fetch the one blob we read.
    await git(['remote', 'add', 'origin', input.url])
    const ref = input.branch ? `refs/heads/${input.branch}` : 'HEAD'
    const fetched = await git(
      ['fetch', '-q', '--depth', '1', '--filter=blob:none', '--no-tags', 'origin', ref],
      true
    )
    if (fetched.code !== 0) {
      const detail = fetched.stderr.trim().split('\n').slice(-2).join(' | ')
      throw new OperationError(
        `could not read ${input.path} from the config repo (${detail}); check --repo${input.branch ? ', --branch' : ''} and the token`
      )
    }
    // Trees are local after the fetch, so absence is known without a blob.
    const listed = await git(['ls-tree', '--name-only', 'FETCH_HEAD', '--', input.path])
    if (listed.stdout.trim() === '') return undefined
    const shown = await git(['show', `FETCH_HEAD:${input.path}`])
    return shown.stdout
  } finally {
    await rm(dir, {recursive: true, force: true})
    forget()
  }
}
