import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {OperationError, UsageError, errorMessage} from '../core/errors.js'
import type {Redactor} from '../core/redact.js'
import {execGit, type GitExecOptions} from '../git/exec.js'
import {PullRequestExistsError, type Forge, type MergeMethod, type PullRequest} from './forge.js'
import {
  DEFAULT_BRANCH_TEMPLATE,
  DEFAULT_TITLE_TEMPLATE,
  branchName,
  renderBody,
  renderTemplate,
  type PrChange,
  type SourceRepo,
  type TemplateContext
} from './pr-body.js'

/** Trailer on every commit we make; a commit on the PR branch without it is someone else's work. */
export const BRANCH_TRAILER = 'Gitops-Deploy-Branch'

export interface PrLog {
  info(message: string): void
  debug(message: string): void
  warning(message: string): void
}

export interface PrLifecycleInput {
  /** Git remote of the config repo (https://, ssh:// or file://). */
  repoUrl: string
  /** Git config for the remote (auth header); passed through GIT_CONFIG_*, never argv. */
  gitConfig?: Record<string, string>
  forge: Forge
  /** Target branch; the forge's default branch when absent. */
  base?: string
  /** Template for the head branch; default `gitops-deploy/{{base}}/{{path}}`. */
  branchTemplate?: string
  titleTemplate?: string
  bodyTemplate?: string
  /** Paths the edit targets; `{{path}}` is the first. */
  paths: string[]
  labels?: string[]
  reviewers?: string[]
  teamReviewers?: string[]
  assignees?: string[]
  draft?: boolean
  autoMerge?: MergeMethod
  /** The app repository, for compare links in the body. */
  source?: SourceRepo
  identity: {name: string; email: string}
  /** First line of the commit message; default is the PR title. */
  commitSubject?: string
  /**
   * Replaces the generated title, body and commit subject (promote brings
   * its own PR description). Called after `edit`, on every attempt.
   */
  describe?(ctx: TemplateContext): {title: string; body: string; commitSubject?: string}
  /**
   * Applies the edit to a checkout of the base tip and returns what it
   * changed. Files must be written; an empty list means the base already has it.
   * Called again on retry, each time on a fresh tip.
   */
  edit(worktree: string): Promise<PrChange[]>
  log: PrLog
  redactor?: Redactor
  /** Attempts when a concurrent run moves the branch between our read and our push. */
  maxAttempts?: number
  timeoutMs?: number
}

export type PrOperation = 'created' | 'updated' | 'unchanged'

export type PrLifecycleResult =
  | {operation: 'no-op'; base: string; branch: string; baseCommit: string}
  | {
      operation: PrOperation
      base: string
      branch: string
      /** The head commit of the PR branch after this run. */
      commit: string
      pushed: boolean
      pullRequest: PullRequest
      changes: PrChange[]
    }

class LeaseLost extends Error {}

/**
 * Create-or-update one pull request whose branch holds exactly "base tip +
 * this edit". Every step is safe to repeat: the branch name is a function of
 * the inputs, an existing PR is found before anything is created, a branch
 * left by a half-failed run is reused, and a commit on the branch that we did
 * not make stops the run instead of being overwritten.
 */
export async function runPrLifecycle(input: PrLifecycleInput): Promise<PrLifecycleResult> {
  const {forge, log} = input
  if (input.teamReviewers?.length && forge.kind === 'gitlab') {
    throw new UsageError(
      `GitLab has no team reviewers (${input.teamReviewers.join(', ')}); list the members with --reviewers instead`
    )
  }
  if (input.autoMerge === 'rebase' && forge.kind === 'gitlab') {
    throw new UsageError(
      'GitLab takes the merge method from the project (Settings > Merge requests > Merge method); use --auto-merge merge or squash'
    )
  }
  // Asking the API first also proves the token works before anything is pushed.
  const base = input.base || (await forge.getDefaultBranch())
  const ctx: TemplateContext = {base, paths: input.paths, changes: []}
  // The branch name must not depend on the edit's outcome, or a re-run with a different old value would fork a second PR.
  const branch = branchName(input.branchTemplate || DEFAULT_BRANCH_TEMPLATE, ctx)
  if (branch === base) {
    throw new UsageError(
      `--pr-branch renders to '${branch}', the base branch itself; give the PR branch another name`
    )
  }
  const existing = await forge.findOpenPullRequest(branch, base)
  log.debug(
    existing
      ? `open PR #${existing.number} found for ${branch}`
      : `no open PR for ${branch} -> ${base}`
  )

  const dir = await mkdtemp(join(tmpdir(), 'gitops-deploy-pr-'))
  try {
    const git = repoGit(dir, input)
    const attempts = input.maxAttempts ?? 3
    for (let attempt = 1; ; attempt++) {
      try {
        return await attemptOnce(git, dir, input, base, branch, existing)
      } catch (e) {
        if (!(e instanceof LeaseLost) || attempt >= attempts) {
          if (e instanceof LeaseLost) {
            throw new OperationError(
              `branch ${branch} kept moving while we pushed (${attempts} attempts); another job is updating it, re-run this one after it finishes`
            )
          }
          throw e
        }
        log.info(
          `branch ${branch} moved while we pushed; retrying on the new tips (attempt ${attempt + 1}/${attempts})`
        )
      }
    }
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}

type Git = (args: string[], extra?: Partial<GitExecOptions>) => Promise<string>

function repoGit(dir: string, input: PrLifecycleInput): Git {
  return async (args, extra) => {
    const out = await execGit(args, {
      cwd: dir,
      config: {...input.gitConfig, ...extra?.config},
      redactor: input.redactor,
      timeoutMs: input.timeoutMs ?? 120_000,
      ...(extra?.input !== undefined ? {input: extra.input} : {}),
      ...(extra?.allowFailure ? {allowFailure: true} : {}),
      ...(extra?.env ? {env: extra.env} : {})
    })
    return out.stdout
  }
}

async function attemptOnce(
  git: Git,
  dir: string,
  input: PrLifecycleInput,
  base: string,
  branch: string,
  found: PullRequest | undefined
): Promise<PrLifecycleResult> {
  const {forge, log} = input
  const tips = await remoteTips(git, input.repoUrl, [base, branch])
  const baseTip = tips.get(base)
  if (!baseTip) {
    throw new OperationError(
      `base branch '${base}' does not exist in ${input.repoUrl}; pass an existing branch with --base`
    )
  }
  const headTip = tips.get(branch)
  await fetchTips(git, input.repoUrl, base, headTip ? branch : undefined)
  await git(['checkout', '-q', '--detach', baseTip])

  const changes = await input.edit(dir)
  const status = await git(['status', '--porcelain', '--untracked-files=all'])
  if (changes.length === 0 || status.trim() === '') {
    log.info(`${base} already has the change; no pull request needed`)
    return {operation: 'no-op', base, branch, baseCommit: baseTip}
  }

  const ctx: TemplateContext = {base, branch, paths: input.paths, changes}
  const described = input.describe?.(ctx)
  const title =
    described?.title ??
    renderTemplate(input.titleTemplate || DEFAULT_TITLE_TEMPLATE, ctx, '--title')
  const intro = input.bodyTemplate ? renderTemplate(input.bodyTemplate, ctx, '--body') : undefined
  const body = described?.body ?? renderBody({intro, branch, base, changes, source: input.source})

  if (headTip) await refuseForeignCommits(git, base, branch, headTip, found)

  await git(['add', '-A'])
  const message = `${described?.commitSubject || input.commitSubject || title}\n\n${changes
    .map(c => `- ${c.file}: ${c.image ?? c.key ?? ''} ${c.before || '(none)'} -> ${c.after}`)
    .join('\n')}\n\n${BRANCH_TRAILER}: ${branch}\n`
  const identity = {
    'user.name': input.identity.name,
    'user.email': input.identity.email,
    'commit.gpgsign': 'false'
  }
  await git(['commit', '-q', '--no-verify', '-F', '-'], {input: message, config: identity})
  const commit = (await git(['rev-parse', 'HEAD'])).trim()

  let pushed = false
  let head = commit
  if (headTip && (await treeOf(git, headTip)) === (await treeOf(git, commit))) {
    // The branch already is "base tip + edit"; pushing a new commit would only churn the PR.
    log.info(`branch ${branch} already carries this change`)
    head = headTip
  } else {
    await pushWithLease(git, input.repoUrl, commit, branch, headTip)
    pushed = true
    log.info(`${headTip ? 'updated' : 'created'} branch ${branch} at ${commit.slice(0, 12)}`)
  }

  let pr = found
  let operation: PrOperation
  if (!pr) {
    try {
      pr = await forge.createPullRequest({
        head: branch,
        base,
        title,
        body,
        draft: input.draft === true
      })
      operation = 'created'
    } catch (e) {
      if (!(e instanceof PullRequestExistsError)) throw e
      // A concurrent run opened it between our lookup and our create.
      pr = await forge.findOpenPullRequest(branch, base)
      if (!pr)
        throw new OperationError(
          `the forge says a pull request for ${branch} exists but none is open; ${errorMessage(e)}`
        )
      operation = 'updated'
    }
  } else {
    operation = pushed ? 'updated' : 'unchanged'
  }
  if (operation !== 'created' && (pr.title !== title || pr.body !== body)) {
    pr = await forge.updatePullRequest(pr, {title, body})
    operation = 'updated'
  }
  log.info(`pull request #${pr.number} ${operation}: ${pr.url}`)

  const missingLabels = (input.labels ?? []).filter(l => !pr!.labels.includes(l))
  await forge.addLabels(pr, missingLabels)
  if (operation !== 'unchanged') {
    // Asking again after new content is the point of a review request; on an untouched PR it would only be noise.
    await forge.requestReviewers(pr, input.reviewers ?? [], input.teamReviewers ?? [])
  }
  await forge.addAssignees(pr, input.assignees ?? [])
  if (input.autoMerge && !pr.autoMerge) {
    await forge.enableAutoMerge(pr, input.autoMerge)
    pr = {...pr, autoMerge: true}
  }
  return {operation, base, branch, commit: head, pushed, pullRequest: pr, changes}
}

async function remoteTips(git: Git, url: string, branches: string[]): Promise<Map<string, string>> {
  const out = await git(['ls-remote', '--', url, ...branches.map(b => `refs/heads/${b}`)])
  const tips = new Map<string, string>()
  for (const line of out.split('\n')) {
    const [sha, ref] = line.split('\t')
    if (sha && ref?.startsWith('refs/heads/')) tips.set(ref.slice('refs/heads/'.length), sha)
  }
  return tips
}

async function fetchTips(
  git: Git,
  url: string,
  base: string,
  branch: string | undefined
): Promise<void> {
  // Re-initialising an existing repository is harmless, so retries need no special case.
  await git(['init', '-q'])
  const specs = [`+refs/heads/${base}:refs/remotes/origin/${base}`]
  if (branch) specs.push(`+refs/heads/${branch}:refs/remotes/origin/${branch}`)
  // Full history of both: the foreign-commit check needs their merge base.
  await git(['fetch', '-q', '--no-tags', '--filter=blob:none', '--', url, ...specs])
}

async function treeOf(git: Git, rev: string): Promise<string> {
  return (await git(['rev-parse', `${rev}^{tree}`])).trim()
}

interface BranchCommit {
  sha: string
  author: string
  subject: string
  trailer: string
}

async function refuseForeignCommits(
  git: Git,
  base: string,
  branch: string,
  headTip: string,
  pr: PullRequest | undefined
): Promise<void> {
  const format = `%H%x1f%an <%ae>%x1f%s%x1f%(trailers:key=${BRANCH_TRAILER},valueonly,separator=%x2c)%x1e`
  const out = await git(['log', `--format=${format}`, `refs/remotes/origin/${base}..${headTip}`])
  const commits: BranchCommit[] = out
    .split('\x1e')
    .map(r => r.trim())
    .filter(Boolean)
    .map(r => {
      const [sha, author, subject, trailer] = r.split('\x1f')
      return {sha, author, subject, trailer: (trailer ?? '').trim()}
    })
  const foreign = commits.filter(
    c =>
      !c.trailer
        .split(',')
        .map(s => s.trim())
        .includes(branch)
  )
  if (foreign.length === 0) return
  const list = foreign
    .slice(0, 3)
    .map(c => `${c.sha.slice(0, 12)} "${c.subject}" by ${c.author}`)
    .join('; ')
  const more = foreign.length > 3 ? ` and ${foreign.length - 3} more` : ''
  throw new OperationError(
    `branch ${branch}${pr ? ` (PR #${pr.number})` : ''} has ${foreign.length} commit(s) gitops-deploy did not make: ${list}${more}; ` +
      `they would be lost, so nothing was pushed. Merge or close the pull request, or delete the branch, or pick another --pr-branch`
  )
}

async function pushWithLease(
  git: Git,
  url: string,
  commit: string,
  branch: string,
  expected: string | undefined
): Promise<void> {
  const ref = `refs/heads/${branch}`
  // An empty expected value means "must not exist yet", so two first runs cannot both create the branch.
  const lease = `--force-with-lease=${ref}:${expected ?? ''}`
  const result = await execPush(git, ['push', '--porcelain', lease, '--', url, `${commit}:${ref}`])
  if (result.ok) return
  const text = result.text
  // Server-side ref races (GitHub "cannot lock ref", GitLab "incorrect old value") mean the same as a lost lease.
  const raced = /cannot lock ref|incorrect old value|failed to update ref/i.test(text)
  if (/remote rejected/i.test(text) && !raced) {
    const reason = /\[remote rejected\]\s*\(([^)]*)\)/.exec(text)?.[1] ?? 'rejected by the server'
    throw new OperationError(
      `the server refused the push to ${branch} (${reason}); the branch may be protected against force pushes: allow them for ${branch} or choose another --pr-branch`
    )
  }
  if (raced || /\((stale info|fetch first|non-fast-forward)\)/i.test(text))
    throw new LeaseLost(text)
  throw new OperationError(
    `git push of ${branch} failed: ${text.trim().split('\n').slice(-3).join(' | ')}; check that the token may push to the repository`
  )
}

async function execPush(git: Git, args: string[]): Promise<{ok: boolean; text: string}> {
  try {
    await git(args)
    return {ok: true, text: ''}
  } catch (e) {
    const output = (e as {output?: {stdout?: string; stderr?: string}}).output
    return {ok: false, text: `${output?.stdout ?? ''}\n${output?.stderr ?? errorMessage(e)}`}
  }
}
