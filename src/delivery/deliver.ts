/**
 * One way for any edit to reach the config repo: written under -C (local),
 * committed and pushed to --repo (git or the forge's commit API), or proposed
 * as a pull request (branch by git or API). Delivery never knows which edit
 * it carries; the edit never knows how it lands.
 */
import {OperationError, UsageError} from '../core/errors.js'
import type {ApiPlanner, Edit, Guard, GuardContext, PlanOutcome, Planner} from '../edits/edit.js'
import {plaintextSecretGuard} from '../edits/secret-guard.js'
import {credentialGuard} from '../edits/credential-guard.js'
import {renderCheckGuard} from '../edits/render-check.js'
import {kubectlRenderer} from '../edits/renderer.js'
import type {CheckReport} from '../edits/edit.js'
import {sourceRepoFromEnv} from '../forge/pr-body.js'
import {RemoteView, type RepoApi} from '../forge/repo-api.js'
import {peekFile} from '../git/peek-file.js'
import {displayUrl, parseRemoteUrl} from '../git/remote-url.js'
import type {Platform} from '../platform/port.js'
import type {DeliverySettings, PrDelivery, PushDelivery} from './options.js'
import {openForge, prTransport} from './pr-transport.js'
import {runPrLifecycle, type PrLifecycleResult} from './pull-request.js'
import {transportReport, transportWrite} from './push.js'
import {remoteReport, type RemoteReport} from './report.js'

export type {Guard, PlannedWrite, GuardContext} from '../edits/edit.js'

/** What a delivery did, whatever the mode: the facts `--wait` and `rollback` build on. */
export interface Delivery<O extends PlanOutcome> {
  mode: 'local' | 'push' | 'pr'
  /** The edit's plan as it was applied (the last attempt's). */
  outcome: O
  dryRun: boolean
  /** The files that changed (or would, under dry-run). */
  files: string[]
  /** The config repo, credentials removed; absent in local mode. */
  repo?: string
  /** Push: the branch committed to; PR: the head branch. */
  branch?: string
  /** PR: the base branch. */
  base?: string
  /** The commit the edit was planned on (push: the branch tip read; PR no-op: the base tip). */
  tip?: string
  /** The commit that landed (push) or the PR head commit; null when none. */
  commit: string | null
  /** A commit was pushed by this run. */
  pushed: boolean
  /** PR mode, unless the base already had the edit. */
  pullRequest?: {number: number; url: string; operation: 'created' | 'updated' | 'unchanged'}
  /** Push mode: the full report (attempts, transport, rejection). */
  remote?: RemoteReport
  /** PR mode: the lifecycle's result. */
  pr?: PrLifecycleResult
  /** What the checks before the write said (the render check), on the last plan. */
  checks: CheckReport[]
}

/** The reports of the guards on the latest plan (a re-plan after a lost race replaces them). */
interface Checks {
  list: CheckReport[]
}

/**
 * The guards a delivery runs: the caller's, plus the plaintext-Secret guard and
 * the credential guard (both with the --allow-secret exceptions). Every mode and
 * transport gets the same list.
 */
function guardsOf(settings: DeliverySettings): Guard[] {
  const allowed = settings.allowSecret ?? []
  return [
    ...(settings.guards ?? []),
    plaintextSecretGuard(allowed),
    credentialGuard(allowed),
    // Last: the cheap checks refuse first, and a render runs only on an edit they let through.
    renderCheckGuard({
      mode: settings.renderCheck ?? 'never',
      renderer: settings.renderer ?? kubectlRenderer()
    })
  ]
}

/** What the transports check out: with the render check on, what rendering reads too. */
function patternsOf<O extends PlanOutcome>(edit: Edit<O>, settings: DeliverySettings) {
  return {
    ...edit.patterns,
    closure: edit.patterns.closure === true || (settings.renderCheck ?? 'never') !== 'never'
  }
}

/** Runs the guards on a plan; nothing has been written yet. */
async function guard<O extends PlanOutcome>(
  edit: Edit<O>,
  guards: Guard[] | undefined,
  outcome: O,
  ctx: GuardContext,
  checks: Checks
): Promise<void> {
  const reports: CheckReport[] = []
  if (guards?.length && outcome.changed) {
    const writes = edit.writes(outcome)
    for (const g of guards) {
      const report = await g(writes, ctx)
      if (report) reports.push(report)
    }
  }
  checks.list = reports
}

function gitPlanner<O extends PlanOutcome>(
  edit: Edit<O>,
  settings: DeliverySettings,
  mode: 'push' | 'pr',
  checks: Checks
): Planner<O> {
  const guards = guardsOf(settings)
  return {
    patterns: patternsOf(edit, settings),
    plan: async root => {
      const outcome = await edit.plan(root)
      await guard(edit, guards, outcome, {mode, transport: 'git', root}, checks)
      return outcome
    },
    write: (root, outcome) => edit.write(root, outcome)
  }
}

function apiPlanner<O extends PlanOutcome>(
  edit: Edit<O>,
  settings: DeliverySettings,
  mode: 'push' | 'pr',
  checks: Checks
): ApiPlanner<O> {
  const guards = guardsOf(settings)
  return {
    plan: async view => {
      const planned = await edit.planApi(view)
      await guard(edit, guards, planned.outcome, {mode, transport: 'api', view}, checks)
      return planned
    }
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0]
}

export async function deliver<O extends PlanOutcome>(
  edit: Edit<O>,
  settings: DeliverySettings,
  platform: Platform
): Promise<Delivery<O>> {
  const d = await deliverOnce(edit, settings, platform)
  // A check that could not run is said in the log; one that passed is in the JSON and outputs.
  for (const c of d.checks) {
    if (c.status === 'skipped') platform.info(c.text)
    else platform.debug(c.text)
  }
  return d
}

async function deliverOnce<O extends PlanOutcome>(
  edit: Edit<O>,
  settings: DeliverySettings,
  platform: Platform
): Promise<Delivery<O>> {
  switch (settings.mode) {
    case 'local': {
      const checks: Checks = {list: []}
      const outcome = await edit.plan(settings.root)
      await guard(edit, guardsOf(settings), outcome, {mode: 'local', root: settings.root}, checks)
      if (!settings.dryRun && outcome.changed) await edit.write(settings.root, outcome)
      return {
        mode: 'local',
        outcome,
        dryRun: settings.dryRun,
        files: outcome.changed ? outcome.files.map(f => f.file) : [],
        commit: null,
        pushed: false,
        checks: checks.list
      }
    }
    case 'push':
      return push(edit, settings, platform)
    case 'pr':
      return pullRequest(edit, settings, platform)
  }
}

async function push<O extends PlanOutcome>(
  edit: Edit<O>,
  s: PushDelivery,
  platform: Platform
): Promise<Delivery<O>> {
  const checks: Checks = {list: []}
  const result = await transportWrite({
    transport: s.transport,
    repo: s.repo,
    cwd: s.cwd,
    branch: s.branch,
    provider: s.provider,
    apiUrl: s.apiUrl,
    env: s.env,
    gitPlanner: gitPlanner(edit, s, 'push', checks),
    apiPlanner: apiPlanner(edit, s, 'push', checks),
    message: (outcome, branch) => edit.message(outcome, {branch, template: s.message, env: s.env}),
    author: s.author,
    authorGiven: s.authorGiven,
    maxAttempts: s.maxAttempts,
    dryRun: s.dryRun,
    platform,
    backoff: s.backoff,
    apiMsPerSecond: s.apiMsPerSecond,
    onApi: s.onApi
  })
  const remote = remoteReport(result, transportReport(result))
  const outcome = result.outcome
  return {
    mode: 'push',
    outcome,
    dryRun: s.dryRun,
    files: outcome.changed ? outcome.files.map(f => f.file) : [],
    repo: remote.repo,
    branch: remote.branch,
    ...(result.kind !== 'rejected' ? {tip: result.base} : {}),
    commit: remote.commit,
    pushed: remote.pushed,
    remote,
    checks: checks.list
  }
}

async function pullRequest<O extends PlanOutcome>(
  edit: Edit<O>,
  s: PrDelivery,
  platform: Platform
): Promise<Delivery<O>> {
  const {forge, repoUrl, gitConfig} = openForge(s, platform)
  let outcome: O | undefined
  const checks: Checks = {list: []}
  const planApi = apiPlanner(edit, s, 'pr', checks)
  const transport = prTransport(
    s,
    repoUrl,
    platform,
    async view => {
      const planned = await planApi.plan(view)
      outcome = planned.outcome
      return {
        changes: planned.outcome.changed ? edit.prChanges(planned.outcome) : [],
        writes: planned.writes
      }
    },
    edit.pr.preferGit
  )
  const branchTemplate =
    s.branchTemplate ||
    (typeof edit.pr.branchTemplate === 'function'
      ? await edit.pr.branchTemplate(path =>
          transport.api
            ? peekApi(transport.api.api, s.base, path)
            : peekFile({url: repoUrl, branch: s.base, path, gitConfig, redactor: platform.redactor})
        )
      : edit.pr.branchTemplate)
  const planGit = gitPlanner(edit, s, 'pr', checks)
  const describe = edit.pr.describe
  const lifecycle = await runPrLifecycle({
    repoUrl,
    gitConfig,
    forge,
    ...transport,
    base: s.base,
    branchTemplate,
    titleTemplate: s.title || edit.pr.titleTemplate,
    bodyTemplate: s.body,
    paths: edit.pr.paths,
    labels: s.labels,
    reviewers: s.reviewers,
    teamReviewers: s.teamReviewers,
    assignees: s.assignees,
    draft: s.draft,
    autoMerge: s.autoMerge,
    closeStale: s.closeStale,
    source: sourceRepoFromEnv(s.env),
    identity: s.author,
    log: platform,
    redactor: platform.redactor,
    maxAttempts: s.maxAttempts,
    backoff: s.backoff,
    commitSubject: () =>
      s.message !== undefined && outcome
        ? firstLine(edit.message(outcome, {branch: '', template: s.message, env: s.env}))
        : undefined,
    ...(describe ? {describe: ctx => describe(ctx, outcome!)} : {}),
    edit: async worktree => {
      const planned = await planGit.plan(worktree)
      outcome = planned
      if (!planned.changed) return []
      await planGit.write(worktree, planned)
      return edit.prChanges(planned)
    }
  })
  if (!outcome)
    throw new OperationError('the edit was not planned; this is a bug, please report it')
  const landed = lifecycle.operation !== 'no-op'
  return {
    mode: 'pr',
    outcome,
    dryRun: false,
    files: landed && outcome.changed ? outcome.files.map(f => f.file) : [],
    repo: displayUrl(parseRemoteUrl(s.repo, s.cwd)),
    branch: lifecycle.branch,
    base: lifecycle.base,
    ...(lifecycle.operation === 'no-op' ? {tip: lifecycle.baseCommit} : {}),
    commit: landed ? lifecycle.commit : null,
    pushed: landed ? lifecycle.pushed : false,
    ...(landed
      ? {
          pullRequest: {
            number: lifecycle.pullRequest.number,
            url: lifecycle.pullRequest.url,
            operation: lifecycle.operation
          }
        }
      : {}),
    pr: lifecycle,
    checks: checks.list
  }
}

/** One file at the tip of `branch` (default branch when absent), read through the forge API. */
async function peekApi(
  api: RepoApi,
  branch: string | undefined,
  path: string
): Promise<string | undefined> {
  const name = branch ?? (await api.defaultBranch())
  const tip = await api.branchHead(name)
  if (!tip) {
    throw new OperationError(
      `branch '${name}' does not exist in ${api.where}; pass an existing branch with --branch`
    )
  }
  const file = await new RemoteView(api, tip).read(path)
  if (!file) return undefined
  if (file.kind !== 'file') {
    throw new UsageError(`${path} must be a regular file, not a symlink or directory`)
  }
  return file.content.toString('utf8')
}
