import type {AppPromotion} from '../core/promotion/plan.js'
import {PROMOTION_CONFIG_FILE, parsePromotionConfig} from '../core/promotion/config.js'
import {resolveEnvironments} from '../core/promotion/environments.js'
import {deliver, type Delivery} from '../delivery/deliver.js'
import type {PrDelivery, PushDelivery} from '../delivery/options.js'
import {GIT_PR_REASON} from '../delivery/pull-request.js'
import {transportReport, type TransportReport} from '../delivery/push.js'
import type {Edit} from '../edits/edit.js'
import {
  commitMessage,
  planCheckout,
  promoteEdit,
  writeCheckoutPlan,
  type CheckoutPlan,
  type PromoteRequest
} from '../edits/promote.js'
import type {PullRequest} from '../forge/forge.js'
import {renderTemplate, type PrChange, type TemplateContext} from '../forge/pr-body.js'
import type {Platform} from '../platform/port.js'
import {renderPromotionBody, type RenderedDiff} from './pr-body.js'
import {kubectlRenderer, renderAround, type Renderer} from './render.js'

// Library callers import the promotion's planner pieces from here, as before the move.
export {commitMessage, planCheckout, writeCheckoutPlan}

export interface PromoteSettings {
  request: PromoteRequest
  /** Where the promotion lands: one commit on --branch, or one pull request. */
  delivery: PushDelivery | PrDelivery
  /** PR mode: put the rendered manifest diff (kubectl kustomize) into the PR body. */
  render: boolean
  /** Tests inject a renderer; production uses kubectl from PATH. */
  renderer?: Renderer
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
  /** The delivery as a whole. */
  delivery?: Delivery<CheckoutPlan>
}

/** The promotion as a push-loop planner (tests drive remoteWrite with it directly). */
export function promotionPlanner(request: PromoteRequest) {
  return promoteEdit(request)
}

export async function runPromotion(s: PromoteSettings, platform: Platform): Promise<PromoteResult> {
  if (s.delivery.mode === 'push') {
    const d = await deliver(promoteEdit(s.request), s.delivery, platform)
    return pushResult(d)
  }
  return runPr(s, s.delivery, platform)
}

function pushResult(d: Delivery<CheckoutPlan>): PromoteResult {
  const plan = d.outcome
  const remote = d.remote!
  const base = {
    mode: 'push' as const,
    from: plan.resolved.source.name,
    to: plan.resolved.target.name,
    branch: remote.branch,
    attempts: remote.attempts,
    apps: plan.plan.apps,
    ...transportFacts(remote)
  }
  if (remote.rejected) {
    return {
      ...base,
      outcome: 'rejected',
      changed: false,
      pushed: false,
      rejected: remote.rejected,
      delivery: d
    }
  }
  if (remote.pushed) {
    return {
      ...base,
      outcome: 'pushed',
      changed: true,
      pushed: true,
      commit: remote.commit!,
      delivery: d
    }
  }
  return {
    ...base,
    outcome: d.dryRun && plan.changed ? 'dry-run' : 'unchanged',
    changed: false,
    pushed: false,
    commit: d.tip,
    delivery: d
  }
}

/** The transport facts of a push report, as promote has always reported them. */
function transportFacts(r: Partial<TransportReport>): Partial<TransportReport> {
  const out: Partial<TransportReport> = {}
  if (r.transport !== undefined) out.transport = r.transport
  if (r.transportReason !== undefined) out.transportReason = r.transportReason
  if (r.verified !== undefined) out.verified = r.verified
  if (r.verificationReason !== undefined) out.verificationReason = r.verificationReason
  if (r.verificationFailure !== undefined) out.verificationFailure = r.verificationFailure
  return out
}

/** `dev` -> `dev`; a directory given without a config becomes one branch-safe segment. */
function branchPart(name: string): string {
  return name.replace(/\/+/g, '-')
}

/** A literal branch name passed where a template is expected. */
function escapeTemplate(s: string): string {
  return s.replace(/\{\{/g, '{-{')
}

/**
 * Promote's PR face: its own description (the promotion table and the
 * rendered manifest diff, rendered around the write on the PR checkout), and
 * a branch named after the environments, known before the checkout.
 */
function promotionPr(s: PromoteSettings, pr: PrDelivery): Edit<CheckoutPlan> {
  const base = promoteEdit(s.request)
  const renderer = s.renderer ?? kubectlRenderer()
  let state: RenderedState | undefined
  const edit: Edit<CheckoutPlan> = {
    ...base,
    async write(worktree, plan) {
      const targets = plan.plan.apps
        .filter(a => a.status === 'promoted')
        .map(a => ({app: a.app, dir: a.targetDir}))
      const after =
        s.render && plan.changed ? await renderAround(renderer, worktree, targets) : undefined
      await base.write(worktree, plan)
      const rendered = after ? await after() : {diffs: []}
      state = {
        diffs: rendered.diffs,
        note: s.render ? rendered.note : 'rendering was turned off (--skip-render)'
      }
    },
    async planApi(view) {
      const planned = await base.planApi(view)
      state = {
        diffs: [],
        note: s.render
          ? 'the rendered manifest diff needs a checkout of the config repo, and this pull request was committed through the API (--transport api); use --transport git to get it'
          : 'rendering was turned off (--skip-render)'
      }
      return planned
    },
    pr: {
      paths: [],
      preferGit: s.render
        ? 'the rendered manifest diff in the PR needs a checkout (pass --skip-render or --transport api to commit through the API)'
        : undefined,
      // The branch must be known before the checkout, so it is built from the flags, not from the plan.
      branchTemplate: async peek => {
        const apps = s.request.apps.length > 0 ? `-${s.request.apps.join('-')}` : ''
        let to = s.request.to ?? ''
        if (s.request.next) {
          // `--next` and `--to <that env>` must share one PR, so the name is resolved first.
          const text = await peek(PROMOTION_CONFIG_FILE)
          const config = text === undefined ? undefined : parsePromotionConfig(text)
          to = resolveEnvironments(config, s.request).target.name
        }
        return escapeTemplate(
          `gitops-deploy/promote/${branchPart(s.request.from)}-to-${branchPart(to)}${apps}`
        )
      },
      describe: (ctx: TemplateContext, plan: CheckoutPlan) => {
        const {diffs, note} = state ?? {diffs: []}
        const from = plan.resolved.source.name
        const to = plan.resolved.target.name
        const promoted = plan.plan.apps.filter(a => a.status === 'promoted').map(a => a.app)
        const title = pr.title
          ? renderTemplate(pr.title, ctx, '--title')
          : `Promote ${from} to ${to}: ${promoted.join(', ')}`
        const intro = pr.body ? renderTemplate(pr.body, ctx, '--body') : undefined
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
        return {title, body, commitSubject: commitMessage(pr.message, plan).split('\n')[0]}
      }
    }
  }
  return edit
}

interface RenderedState {
  diffs: RenderedDiff[]
  note?: string
}

async function runPr(
  s: PromoteSettings,
  pr: PrDelivery,
  platform: Platform
): Promise<PromoteResult> {
  const d = await deliver(promotionPr(s, pr), pr, platform)
  const plan = d.outcome
  const result = d.pr!
  const common = {
    mode: 'pr' as const,
    from: plan.resolved.source.name,
    to: plan.resolved.target.name,
    branch: result.branch,
    apps: plan.plan.apps,
    delivery: d
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
