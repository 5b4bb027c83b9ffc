import {createHash} from 'node:crypto'
import {mkdtemp, rm} from 'node:fs/promises'
import {onInterrupt} from '../core/cleanup.js'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {forgeProvider} from '../forge/registry.js'
import {OperationError, UsageError, errorMessage} from '../core/errors.js'
import type {Redactor} from '../core/redact.js'
import {
  LeaseLost,
  branchCommits,
  fetchTips,
  prBranchGit,
  pushWithLease,
  remoteTips,
  treeOf,
  type PrGit,
  type RemoteRetry
} from '../git/pr-branch.js'
import {DEFAULT_BACKOFF, type Backoff} from '../core/backoff.js'
import {apiUnusable, requireVerifiedNeedsApi} from './push.js'
import {
  RemoteView,
  TransportUnavailable,
  type BranchApi,
  type Comparison,
  type FileWrite,
  type TransportKind,
  type Verification
} from '../forge/repo-api.js'
import {
  PullRequestExistsError,
  type Forge,
  type MergeMethod,
  type PullRequest
} from '../forge/forge.js'
import {
  DEFAULT_BRANCH_TEMPLATE,
  DEFAULT_TITLE_TEMPLATE,
  branchName,
  renderBody,
  renderTemplate,
  type PrChange,
  type SourceRepo,
  type TemplateContext
} from '../forge/pr-body.js'

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
  /**
   * When the base already has the change, close our open PR for the branch
   * (comment, close, delete the branch). Never one with a commit we did not make.
   */
  closeStale?: boolean
  /** The app repository, for compare links in the body. */
  source?: SourceRepo
  identity: {name: string; email: string}
  /** First line of the commit message (asked after `edit`, on every attempt); default is the PR title. */
  commitSubject?(): string | undefined
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
  /**
   * Write the branch through the forge's API instead of git: `plan` is the
   * edit on a read-only view of the base tip. Absent: git.
   */
  api?: PrApiTransport
  /** Why git carries the branch (reported); default: PR mode's git push. */
  gitReason?: string
  /** Attempts when a concurrent run moves the branch between our read and our push. */
  maxAttempts?: number
  /** Pause between retries (transient git failures, lost leases); default: the push path's. */
  backoff?: Backoff
  timeoutMs?: number
}

export interface PrApiTransport {
  api: BranchApi
  /** Shown in the output: why the API. */
  reason: string
  /** --transport api: an API that cannot do the job is a usage error instead of a fall-back to git. */
  explicit: boolean
  requireVerified: boolean
  /** Ask the forge for the commit's signature (GitHub: always; one request). */
  checkVerification: boolean
  /** Fails a landed commit that --require-verified refuses; the message names the fix. */
  verificationFailure(commit: string, branch: string, v: Verification | undefined): string
  /** Called once when `auto` gives up on the API before writing anything. */
  onFallback(reason: string): void
  /** The edit on the base tip: the changes for the PR and the files to write; [] when the base has it. */
  plan(view: RemoteView): Promise<{changes: PrChange[]; writes: FileWrite[]}>
}

export const GIT_PR_REASON = 'PR mode pushes the PR branch with git'

export type PrOperation = 'created' | 'updated' | 'unchanged'

interface PrTransportFacts {
  /** Which transport carried the branch commit, and why. */
  transport?: TransportKind
  transportReason?: string
  /** The forge's word on the branch commit's signature, when asked. */
  verification?: Verification
}

export type PrLifecycleResult =
  | ({
      operation: 'no-op'
      base: string
      branch: string
      baseCommit: string
      /** Our open PR for the branch, closed because the base already has the change. */
      closed?: PullRequest
      /** Why an open PR for the branch was left open although nothing is left to change. */
      kept?: string
    } & PrTransportFacts)
  | ({
      operation: PrOperation
      base: string
      branch: string
      /** The head commit of the PR branch after this run. */
      commit: string
      pushed: boolean
      pullRequest: PullRequest
      changes: PrChange[]
    } & PrTransportFacts)

/**
 * Create-or-update one pull request whose branch holds exactly "base tip +
 * this edit". Every step is safe to repeat: the branch name is a function of
 * the inputs, an existing PR is found before anything is created, a branch
 * left by a half-failed run is reused, and a commit on the branch that we did
 * not make stops the run instead of being overwritten.
 */
export async function runPrLifecycle(input: PrLifecycleInput): Promise<PrLifecycleResult> {
  const {forge, log} = input
  if (input.teamReviewers?.length && !forgeProvider(forge.kind).capabilities.teamReviewers) {
    throw new UsageError(
      `GitLab has no team reviewers (${input.teamReviewers.join(', ')}); list the members with --reviewers instead`
    )
  }
  if (input.autoMerge === 'rebase' && !forgeProvider(forge.kind).capabilities.rebaseAutoMerge) {
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

  let dir: string | undefined
  let forget: (() => void) | undefined
  let api = input.api
  let gitReason = input.gitReason ?? GIT_PR_REASON
  const attempts = input.maxAttempts ?? 3
  const retry: RemoteRetry = {
    url: input.repoUrl,
    attempts,
    backoff: input.backoff ?? DEFAULT_BACKOFF,
    log,
    fix: `This is a server or network problem: re-run the job later (check the forge's status page)${input.maxAttempts === undefined ? '' : ', or raise --max-attempts to ride out longer outages'}`
  }
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        if (api) {
          const r = await attemptApi(api, input, base, branch, existing)
          return {...r, transport: 'api', transportReason: api.reason}
        }
        if (!dir) {
          const made = await mkdtemp(join(tmpdir(), 'gitops-deploy-pr-'))
          forget = onInterrupt(() => rm(made, {recursive: true, force: true}))
          dir = made
        }
        const r = await attemptOnce(
          prBranchGit(dir, input),
          retry,
          dir,
          input,
          base,
          branch,
          existing
        )
        return {...r, transport: 'git', transportReason: gitReason}
      } catch (e) {
        if (e instanceof TransportUnavailable && api) {
          if (api.explicit) throw apiUnusable(e)
          gitReason = `auto: fell back to git because ${e.message}`
          if (api.requireVerified) throw requireVerifiedNeedsApi(gitReason)
          api.onFallback(e.message)
          api = undefined
          attempt--
          continue
        }
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
    if (dir) await rm(dir, {recursive: true, force: true})
    forget?.()
  }
}

async function attemptOnce(
  git: PrGit,
  retry: RemoteRetry,
  dir: string,
  input: PrLifecycleInput,
  base: string,
  branch: string,
  found: PullRequest | undefined
): Promise<PrLifecycleResult> {
  const {log} = input
  const tips = await remoteTips(git, retry, [base, branch])
  const baseTip = tips.get(base)
  if (!baseTip) {
    throw new OperationError(
      `base branch '${base}' does not exist in ${input.repoUrl}; pass an existing branch with --base`
    )
  }
  const headTip = tips.get(branch)
  await fetchTips(git, retry, base, headTip ? branch : undefined)
  await git(['checkout', '-q', '--detach', baseTip])

  const changes = await input.edit(dir)
  const status = await git(['status', '--porcelain', '--untracked-files=all'])
  if (changes.length === 0 || status.trim() === '') {
    log.info(`${base} already has the change; no pull request needed`)
    const commits = found && headTip ? await branchCommits(git, base, headTip) : []
    return {
      operation: 'no-op',
      base,
      branch,
      baseCommit: baseTip,
      ...(await closeStale(input, found, branch, base, baseTip, {commits, complete: true}))
    }
  }

  const {title, body, message} = describeChange(input, base, branch, changes)

  if (headTip) {
    const commits = await branchCommits(git, base, headTip)
    refuseForeignCommits({commits, complete: true}, branch, found)
  }

  await git(['add', '-A'])
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
    await pushWithLease(git, retry, commit, branch, headTip)
    pushed = true
    log.info(`${headTip ? 'updated' : 'created'} branch ${branch} at ${commit.slice(0, 12)}`)
  }
  return finishPullRequest(input, {base, branch, title, body, found, pushed, head, changes})
}

/** Title, body and commit message of the PR for these changes. */
function describeChange(
  input: PrLifecycleInput,
  base: string,
  branch: string,
  changes: PrChange[]
): {title: string; body: string; message: string} {
  const ctx: TemplateContext = {base, branch, paths: input.paths, changes}
  const described = input.describe?.(ctx)
  const title =
    described?.title ??
    renderTemplate(input.titleTemplate || DEFAULT_TITLE_TEMPLATE, ctx, '--title')
  const intro = input.bodyTemplate ? renderTemplate(input.bodyTemplate, ctx, '--body') : undefined
  const body = described?.body ?? renderBody({intro, branch, base, changes, source: input.source})
  const message = `${described?.commitSubject || input.commitSubject?.() || title}\n\n${changes
    .map(c => `- ${c.file}: ${c.image ?? c.key ?? ''} ${c.before || '(none)'} -> ${c.after}`)
    .join('\n')}\n\n${BRANCH_TRAILER}: ${branch}\n`
  return {title, body, message}
}

/**
 * The API twin of attemptOnce: plan on the base tip as the forge serves it,
 * check the head branch through the compare API, and let the forge make the
 * commit (src/transport: createCommitOnBranch / the commits API), so no git
 * runs and, on GitHub with an App token or GITHUB_TOKEN, the commit is verified.
 */
async function attemptApi(
  t: PrApiTransport,
  input: PrLifecycleInput,
  base: string,
  branch: string,
  found: PullRequest | undefined
): Promise<PrLifecycleResult> {
  const {api} = t
  const {log} = input
  // A retry after a lost race waits for the write pacing before it reads the tips, not after.
  await api.writeSlot?.()
  const baseTip = await api.branchHead(base)
  if (!baseTip) {
    throw new OperationError(
      `base branch '${base}' does not exist in ${api.where}; pass an existing branch with --base`
    )
  }
  const headTip = await api.branchHead(branch)
  const view = new RemoteView(api, baseTip)
  const {changes, writes} = await t.plan(view)
  if (changes.length === 0 || writes.length === 0) {
    log.info(`${base} already has the change; no pull request needed`)
    const comparison =
      found && headTip ? await api.compare(baseTip, headTip) : {commits: [], complete: true}
    return {
      operation: 'no-op',
      base,
      branch,
      baseCommit: baseTip,
      ...(await closeStale(input, found, branch, base, baseTip, comparison))
    }
  }
  const {title, body, message} = describeChange(input, base, branch, changes)

  let carries = false
  let verification: Verification | undefined
  if (headTip) {
    const comparison = await api.compare(baseTip, headTip)
    refuseForeignCommits(comparison, branch, found)
    carries = await carriesEdit(api, comparison, headTip, writes)
    if (carries && t.requireVerified) {
      // An unverified commit left by an earlier run is replaced, not kept.
      verification = await api.verification(headTip)
      carries = verification?.verified === true
    }
  }
  let head: string
  if (carries) {
    log.info(`branch ${branch} already carries this change`)
    head = headTip!
  } else {
    const attempt = await api.replaceBranch({
      branch,
      parent: baseTip,
      expected: headTip,
      message,
      author: input.identity,
      writes: await view.prepare(writes)
    })
    switch (attempt.kind) {
      case 'stale':
        throw new LeaseLost(attempt.detail)
      case 'unavailable':
        throw new TransportUnavailable(
          `${api.where} cannot create commits through its API (${attempt.detail})`
        )
      case 'rejected':
        throw new OperationError(
          `the forge refused the commit to ${branch} (${attempt.detail}); ${attempt.reason === 'protected' ? `a rule protects ${branch}: allow the token's identity to write it, or choose another --pr-branch` : 'check that the token may write to the repository'}`
        )
    }
    head = attempt.commit
    log.info(
      `${headTip ? 'updated' : 'created'} branch ${branch} at ${head.slice(0, 12)} through the API`
    )
    verification = t.checkVerification ? await api.verification(head) : undefined
    if (t.requireVerified && verification?.verified !== true) {
      throw new OperationError(
        `${t.verificationFailure(head, branch, verification)} The pull request was not created or updated.`
      )
    }
  }
  const result = await finishPullRequest(input, {
    base,
    branch,
    title,
    body,
    found,
    pushed: !carries,
    head,
    changes
  })
  return verification ? {...result, verification} : result
}

/**
 * The head is exactly "base tip + these writes" when it contains the base
 * tip and differs from it in just the written files, each with the planned
 * bytes. A cut-short file list never counts as a match (the branch is then
 * rewritten, which is safe).
 */
async function carriesEdit(
  api: BranchApi,
  comparison: Comparison,
  headTip: string,
  writes: FileWrite[]
): Promise<boolean> {
  const files = comparison.files
  if (!comparison.containsBase || !files || files.length !== writes.length) return false
  const byPath = new Map(files.map(f => [f.path, f]))
  const headView = new RemoteView(api, headTip)
  for (const w of writes) {
    const f = byPath.get(w.path)
    if (!f || f.removed) return false
    if (f.sha) {
      if (f.sha !== blobSha(w.content)) return false
      continue
    }
    const file = await headView.read(w.path)
    if (file?.kind !== 'file' || !file.content.equals(w.content)) return false
  }
  return true
}

/** Git's object id of a blob with these bytes. */
function blobSha(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex')
}

/** Opens or updates the request once the branch holds the edit; the same for both transports. */
async function finishPullRequest(
  input: PrLifecycleInput,
  p: {
    base: string
    branch: string
    title: string
    body: string
    found: PullRequest | undefined
    pushed: boolean
    head: string
    changes: PrChange[]
  }
): Promise<PrLifecycleResult> {
  const {forge, log} = input
  const {base, branch, title, body, pushed, changes} = p
  let pr = p.found
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
  // Decorations are ensured on every run, so a run that failed half-way through them is
  // completed by the next one. Reviewers who already reviewed are asked again only when the
  // content changed; on an untouched PR that would only be noise.
  await forge.requestReviewers(pr, input.reviewers ?? [], input.teamReviewers ?? [], {
    again: operation !== 'unchanged'
  })
  await forge.addAssignees(pr, input.assignees ?? [])
  if (input.autoMerge && !pr.autoMerge) {
    await forge.enableAutoMerge(pr, input.autoMerge)
    pr = {...pr, autoMerge: true}
  }
  return {operation, base, branch, commit: p.head, pushed, pullRequest: pr, changes}
}

/**
 * Housekeeping after a no-op: our open PR for the branch is no longer needed
 * (the base got the change another way, or the edit was reverted), so it is
 * closed with a comment and its branch deleted, as create-pull-request does.
 * A PR whose branch holds a commit we did not make is someone's work: kept.
 */
async function closeStale(
  input: PrLifecycleInput,
  pr: PullRequest | undefined,
  branch: string,
  base: string,
  baseTip: string,
  comparison: Pick<Comparison, 'commits' | 'complete'>
): Promise<{closed?: PullRequest; kept?: string}> {
  if (!pr) return {}
  const {forge, log} = input
  if (input.closeStale === false) {
    const kept = `--close-stale false keeps it`
    log.info(`pull request #${pr.number} (${pr.url}) has nothing left to change; ${kept}`)
    return {kept}
  }
  const foreign = comparison.commits.filter(
    c => !trailerValues(c.message, BRANCH_TRAILER).includes(branch)
  )
  if (foreign.length > 0 || !comparison.complete) {
    const kept = `branch ${branch} has ${foreign.length > 0 ? `${foreign.length} commit(s)` : 'commits'} gitops-deploy did not make`
    log.warning(
      `pull request #${pr.number} (${pr.url}) has nothing left to change, but ${kept}: left open; close it by hand if it is no longer needed`
    )
    return {kept}
  }
  await forge.closePullRequest(
    pr,
    `Closed by gitops-deploy: \`${base}\` already has this change (at ${baseTip.slice(0, 12)}), so this pull request is no longer needed. Its branch \`${branch}\` is deleted; a later run that has something to change opens a new pull request.`
  )
  await forge.deleteBranch(branch)
  log.info(
    `closed pull request #${pr.number} (${pr.url}) and deleted branch ${branch}: ${base} already has the change`
  )
  return {closed: pr}
}

/** Values of trailer `key` in the message's last paragraph (keys compare case-insensitively, as in git). */
export function trailerValues(message: string, key: string): string[] {
  const paragraphs = message.replace(/\s+$/, '').split(/\n[ \t]*\n/)
  if (paragraphs.length < 2) return []
  const wanted = key.toLowerCase()
  return paragraphs[paragraphs.length - 1]
    .split('\n')
    .map(l => /^([A-Za-z0-9-]+)[ \t]*:[ \t]*(.*)$/.exec(l))
    .filter(m => m !== null && m[1].toLowerCase() === wanted)
    .flatMap(m => m![2].split(',').map(v => v.trim()))
}

/**
 * Stops the run when the head branch has a commit we did not make: it would
 * be lost. A list the forge cut short is treated as foreign too, since the
 * commits it left out cannot be vouched for.
 */
function refuseForeignCommits(
  comparison: Pick<Comparison, 'commits' | 'complete'>,
  branch: string,
  pr: PullRequest | undefined
): void {
  const foreign = comparison.commits.filter(
    c => !trailerValues(c.message, BRANCH_TRAILER).includes(branch)
  )
  const where = `branch ${branch}${pr ? ` (PR #${pr.number})` : ''}`
  const fix = 'Merge or close the pull request, or delete the branch, or pick another --pr-branch'
  if (foreign.length === 0 && !comparison.complete) {
    throw new OperationError(
      `${where} has more commits than the forge listed (${comparison.commits.length} shown), so they cannot be checked for commits gitops-deploy did not make; nothing was written. ${fix}`
    )
  }
  if (foreign.length === 0) return
  const list = foreign
    .slice(0, 3)
    .map(c => `${c.sha.slice(0, 12)} "${c.message.split('\n')[0]}" by ${c.author}`)
    .join('; ')
  const more = foreign.length > 3 ? ` and ${foreign.length - 3} more` : ''
  throw new OperationError(
    `${where} has ${foreign.length} commit(s) gitops-deploy did not make: ${list}${more}; ` +
      `they would be lost, so nothing was pushed. ${fix}`
  )
}
