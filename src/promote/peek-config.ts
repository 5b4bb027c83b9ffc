import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {OperationError} from '../core/errors.js'
import type {Redactor} from '../core/redact.js'
import {
  PROMOTION_CONFIG_FILE,
  parsePromotionConfig,
  type PromotionConfig
} from '../core/promotion/config.js'
import {execGit} from '../git/exec.js'

export interface PeekInput {
  url: string
  branch?: string
  gitConfig: Record<string, string>
  redactor: Redactor
}

/**
 * Reads `.gitops-deploy.yaml` from the remote before the PR checkout exists.
 * PR mode needs the target environment's NAME up front for the branch name,
 * and with `--next` only the config knows it. Costs one shallow, tree-only
 * fetch plus one blob; `undefined` when the repo has no config file.
 */
export async function peekPromotionConfig(input: PeekInput): Promise<PromotionConfig | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'gitops-deploy-peek-'))
  const git = (args: string[], allowFailure = false) =>
    execGit(args, {
      cwd: dir,
      config: input.gitConfig,
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
        `could not read ${PROMOTION_CONFIG_FILE} from the config repo (${detail}); check --repo${input.branch ? ', --branch' : ''} and the token`
      )
    }
    // Trees are local after the fetch, so absence is known without a blob.
    const listed = await git(['ls-tree', '--name-only', 'FETCH_HEAD', '--', PROMOTION_CONFIG_FILE])
    if (listed.stdout.trim() === '') return undefined
    const shown = await git(['show', `FETCH_HEAD:${PROMOTION_CONFIG_FILE}`])
    return parsePromotionConfig(shown.stdout)
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}
