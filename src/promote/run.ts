import {OperationError, UsageError} from '../core/errors.js'
import type {AppPromotion} from '../core/promotion/plan.js'
import type {Env} from '../platform/inputs.js'
import type {PullRequest} from '../forge/forge.js'
import {openForge, prTransport} from '../forge/open-forge.js'
import {PROMOTION_CONFIG_FILE, parsePromotionConfig} from '../core/promotion/config.js'
import {RemoteView, type RepoApi} from '../transport/transport.js'
import {GIT_PR_REASON, runPrLifecycle} from '../forge/pr-lifecycle.js'
import {renderTemplate, type PrChange, type TemplateContext} from '../forge/pr-body.js'
import {prDecorations, type PrRequestSettings} from '../forge/set-image-pr.js'
import {TOKEN_VARIABLE} from '../git/auth.js'
import type {Identity} from '../git/git.js'
import type {Backoff} from '../core/backoff.js'
import type {Planner} from '../git/remote-write.js'
import {promoteApiPlanner} from '../transport/promote-planner.js'
import {transportReport, transportWrite, type TransportReport} from '../transport/run.js'
import type {TransportSettings} from '../transport/select.js'
import type {Platform} from '../platform/port.js'
import {
  planCheckout,
  writeCheckoutPlan,
  type CheckoutPlan,
  type PromoteRequest
} from './checkout-plan.js'
import {renderPromotionBody, type RenderedDiff} from './pr-body.js'
import {kubectlRenderer, renderAround, type Renderer} from './render.js'
import {peekPromotionConfig} from './peek-config.js'
import {resolveEnvironments} from '../core/promotion/environments.js'

export interface PromotePrSettings extends PrRequestSettings {
  branch?: string
  title?: string
  body?: string
}

export interface PromoteSettings {
  repo: string
  branch?: string
  request: PromoteRequest
  mode: 'push' | 'pr'
  message?: string
  author: Identity
  maxAttempts: number
  dryRun: boolean
  render: boolean
  pr: PromotePrSettings
  env: Env
  /** Tests inject a renderer; production uses kubectl from PATH. */
  renderer?: Renderer
  /** Push mode's commit transport; absent means git (library callers predating --transport). */
  transport?: TransportSettings
  /** --author was given explicitly. */
  authorGiven?: boolean
  /** Tests shorten the retry waits. */
  backoff?: Backoff
}

export interface PromoteResult extends Partial<TransportReport> {
  mode: 'push' | 'pr'
  from: string
  to: string
  outcome: 'pushed' | 'unchanged' | 'dry-run' | 'rejected' | 'pr' | 'no-op'
  changed: boolean
  pushed: boolean
  commit?: string
  branch?: string
  attempts?: number
  apps: AppPromotion[]
  pr?: PullRequest
  prOperation?: string
  rejected?: {reason: string; detail: string}
}

export async function runPromotion(s: PromoteSettings, platform: Platform): Promise<PromoteResult> {
  return s.mode === 'push' ? runPush(s, platform) : runPr(s, platform)
}

/** The promotion as a remote-write planner; re-planned from scratch on every new tip. */
export function promotionPlanner(request: PromoteRequest): Planner<CheckoutPlan> {
  return {
    // Promotion discovers apps from the tree and kustomize bases may live anywhere: check out everything.
    patterns: {dirGlobs: [''], files: []},
    plan: root => planCheckout(root, request),
    write: (root, outcome) => writeCheckoutPlan(root, outcome)
  }
}

async function runPush(s: PromoteSettings, platform: Platform): Promise<PromoteResult> {
  const result = await transportWrite({
    transport: s.transport ?? {choice: 'git', requireVerified: false},
    repo: s.repo,
    branch: s.branch,
    provider: s.pr.provider,
    apiUrl: s.pr.apiUrl,
    env: s.env,
    gitPlanner: promotionPlanner(s.request),
    apiPlanner: promoteApiPlanner(s.request),
    message: outcome => commitMessage(s.message, outcome),
    author: s.author,
    authorGiven: s.authorGiven === true,
    maxAttempts: s.maxAttempts,
    dryRun: s.dryRun,
    platform,
    backoff: s.backoff
  })
  const plan = result.outcome
  const base = {
    mode: 'push' as const,
    from: plan.resolved.source.name,
    to: plan.resolved.target.name,
    branch: result.branch,
    attempts: result.attempts,
    apps: plan.plan.apps,
    ...transportReport(result)
  }
  switch (result.kind) {
    case 'pushed':
      return {...base, outcome: 'pushed', changed: true, pushed: true, commit: result.commit}
    case 'unchanged':
      return {...base, outcome: 'unchanged', changed: false, pushed: false, commit: result.base}
    case 'dry-run':
      return {...base, outcome: 'dry-run', changed: false, pushed: false, commit: result.base}
    case 'rejected':
      return {
        ...base,
        outcome: 'rejected',
        changed: false,
        pushed: false,
        rejected: {reason: result.reason, detail: result.detail}
      }
  }
}

/** Subject from --message, one line per change, and trailers that say where the pins came from. */
export function commitMessage(template: string | undefined, plan: CheckoutPlan): string {
  const from = plan.resolved.source.name
  const to = plan.resolved.target.name
  const promoted = plan.plan.apps.filter(a => a.status === 'promoted').map(a => a.app)
  const vars: Record<string, string> = {
    from,
    to,
    apps: promoted.join(', '),
    summary: `${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'}`
  }
  const subject = (template ?? 'Promote {{from}} to {{to}}: {{apps}}')
    .replace(/\{\{\s*([a-z]+)\s*\}\}/g, (_, n: string) => vars[n] ?? '')
    .split('\n')[0]
  const lines = plan.changes.map(c =>
    c.image ? `- ${c.file}: ${c.image} ${c.before} -> ${c.after}` : `- ${c.file}: ${c.after}`
  )
  const missing = plan.plan.apps.filter(a => a.status === 'missing-in-target').map(a => a.app)
  const notes = missing.length > 0 ? [`Not in ${to} (not created): ${missing.join(', ')}`, ''] : []
  return `${subject}\n\n${lines.join('\n')}\n\n${notes.join('\n')}Promoted-From: ${from}\nPromoted-To: ${to}\n`
}

/** `dev` -> `dev`; a directory given without a config becomes one branch-safe segment. */
function branchPart(name: string): string {
  return name.replace(/\/+/g, '-')
}

async function runPr(s: PromoteSettings, platform: Platform): Promise<PromoteResult> {
  if (!s.env[TOKEN_VARIABLE]?.trim()) {
    throw new UsageError(
      `PR mode needs an API token in ${TOKEN_VARIABLE} (the action's \`token\` input): GitHub \`contents: write\` + \`pull-requests: write\`, GitLab \`api\` scope; or use --mode push`
    )
  }
  const {forge, repoUrl, gitConfig} = openForge(
    {repo: s.repo, provider: s.pr.provider, apiUrl: s.pr.apiUrl, env: s.env},
    platform
  )
  const renderer = s.renderer ?? kubectlRenderer()
  let state: {plan: CheckoutPlan; diffs: RenderedDiff[]; note?: string} | undefined
  const apiPlanner = promoteApiPlanner(s.request)
  const transport = prTransport(
    {
      transport: s.transport ?? {choice: 'git', requireVerified: false},
      provider: s.pr.provider,
      apiUrl: s.pr.apiUrl,
      env: s.env,
      authorGiven: s.authorGiven === true
    },
    repoUrl,
    platform,
    async view => {
      const planned = await apiPlanner.plan(view)
      const plan = planned.outcome
      state = {
        plan,
        diffs: [],
        note: s.render
          ? 'the rendered manifest diff needs a checkout of the config repo, and this pull request was committed through the API (--transport api); use --transport git to get it'
          : 'rendering was turned off (--skip-render)'
      }
      return {changes: plan.changed ? plan.changes : [], writes: planned.writes}
    },
    s.render
      ? 'the rendered manifest diff in the PR needs a checkout (pass --skip-render or --transport api to commit through the API)'
      : undefined
  )
  // The branch must be known before the checkout, so it is built from the flags, not from the config.
  const apps = s.request.apps.length > 0 ? `-${s.request.apps.join('-')}` : ''
  let to = s.request.to ?? ''
  if (s.request.next) {
    // `--next` and `--to <that env>` must share one PR, so the name is resolved first.
    const config = transport.api
      ? await peekConfigApi(transport.api.api, s.branch)
      : await peekPromotionConfig({
          url: repoUrl,
          branch: s.branch,
          gitConfig,
          redactor: platform.redactor
        })
    to = resolveEnvironments(config, s.request).target.name
  }
  const defaultBranch = `gitops-deploy/promote/${branchPart(s.request.from)}-to-${branchPart(to)}${apps}`
  const result = await runPrLifecycle({
    repoUrl,
    gitConfig,
    forge,
    ...transport,
    base: s.branch,
    branchTemplate: s.pr.branch ?? escapeTemplate(defaultBranch),
    titleTemplate: s.pr.title,
    bodyTemplate: s.pr.body,
    paths: [],
    ...prDecorations(s.pr),
    identity: s.author,
    log: platform,
    redactor: platform.redactor,
    maxAttempts: s.maxAttempts,
    edit: async worktree => {
      const plan = await planCheckout(worktree, s.request)
      const targets = plan.plan.apps
        .filter(a => a.status === 'promoted')
        .map(a => ({app: a.app, dir: a.targetDir}))
      const after =
        s.render && plan.changed ? await renderAround(renderer, worktree, targets) : undefined
      await writeCheckoutPlan(worktree, plan)
      const rendered = after ? await after() : {diffs: []}
      state = {
        plan,
        diffs: rendered.diffs,
        note: s.render ? rendered.note : 'rendering was turned off (--skip-render)'
      }
      return plan.changed ? plan.changes : []
    },
    describe: (ctx: TemplateContext) => {
      const {plan, diffs, note} = state!
      const from = plan.resolved.source.name
      const to = plan.resolved.target.name
      const promoted = plan.plan.apps.filter(a => a.status === 'promoted').map(a => a.app)
      const title = s.pr.title
        ? renderTemplate(s.pr.title, ctx, '--title')
        : `Promote ${from} to ${to}: ${promoted.join(', ')}`
      const intro = s.pr.body ? renderTemplate(s.pr.body, ctx, '--body') : undefined
      const body = renderPromotionBody({
        from,
        to,
        branch: ctx.branch ?? '',
        base: ctx.base,
        apps: plan.plan.apps,
        changes: ctx.changes as PrChange[],
        diffs,
        renderNote: note,
        intro
      })
      return {title, body, commitSubject: commitSubject(s, plan)}
    }
  })
  if (!state)
    throw new OperationError('the promotion was not planned; this is a bug, please report it')
  const {plan} = state
  const common = {
    mode: 'pr' as const,
    from: plan.resolved.source.name,
    to: plan.resolved.target.name,
    branch: result.branch,
    apps: plan.plan.apps
  }
  const facts = transportReport({
    transport: result.transport ?? 'git',
    transportReason: result.transportReason ?? GIT_PR_REASON,
    ...(result.verification ? {verification: result.verification} : {})
  })
  if (result.operation === 'no-op') {
    return {
      ...common,
      ...facts,
      outcome: 'no-op',
      changed: false,
      pushed: false,
      prOperation: 'no-op'
    }
  }
  return {
    ...common,
    ...facts,
    outcome: 'pr',
    changed: result.pushed,
    pushed: result.pushed,
    commit: result.commit,
    pr: result.pullRequest,
    prOperation: result.operation
  }
}

/** `--next` over the API: the config at the base tip, read through the forge (no git at all). */
async function peekConfigApi(api: RepoApi, branch: string | undefined) {
  const name = branch ?? (await api.defaultBranch())
  const tip = await api.branchHead(name)
  if (!tip) {
    throw new OperationError(
      `branch '${name}' does not exist in ${api.where}; pass an existing branch with --branch`
    )
  }
  const file = await new RemoteView(api, tip).read(PROMOTION_CONFIG_FILE)
  if (!file) return undefined
  if (file.kind !== 'file') {
    throw new UsageError(
      `${PROMOTION_CONFIG_FILE} must be a regular file, not a symlink or directory`
    )
  }
  return parsePromotionConfig(file.content.toString('utf8'))
}

function commitSubject(s: PromoteSettings, plan: CheckoutPlan): string {
  return commitMessage(s.message, plan).split('\n')[0]
}

/** A literal branch name passed where a template is expected. */
function escapeTemplate(s: string): string {
  return s.replace(/\{\{/g, '{-{')
}
