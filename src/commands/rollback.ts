/**
 * `rollback`: put the image pins of some overlays back through git. With
 * auto-sync on, Argo CD refuses its own rollback; in GitOps the rollback is
 * a commit, delivered like any other edit (push or PR, git or API).
 */
import {resolve} from 'node:path'
import {UsageError} from '../core/errors.js'
import {tableCell as cell, tableHead, tableRow} from '../core/markdown.js'
import {formatPin} from '../core/promotion/pins.js'
import {deliver, type Delivery} from '../delivery/deliver.js'
import {
  deliveryOptions,
  DELIVERY_OUTPUTS,
  dryRunOption,
  PR_OPTIONS,
  readDelivery,
  rootOption,
  type DeliverySettings
} from '../delivery/options.js'
import {
  deliveryExitCode,
  deliveryJson,
  deliveryOutputs,
  editText,
  prLifecycleText,
  remoteSummary
} from '../delivery/report.js'
import {
  findRestores,
  findUndo,
  parseKeyArg,
  rollbackEdit,
  type RollbackOutcome,
  type RollbackPlan,
  type RollbackRequest
} from '../edits/rollback.js'
import {checkRelative} from '../edits/workspace.js'
import {FileHistory, remoteHistorySource} from '../git/file-history.js'
import type {Platform} from '../platform/port.js'
import {
  defineCommand,
  type InputReader,
  type OptionSpec,
  type Outputs,
  type OutputSpec
} from './types.js'
import {
  readWaitFlag,
  runWaitAfter,
  WAIT_OPTIONS,
  WAIT_OUTPUTS,
  waitExitCode,
  waitJson,
  waitOutputs,
  waitSummary,
  waitText,
  type WaitReport,
  type WaitSettings
} from './wait-options.js'

export interface RollbackSettings {
  request: RollbackRequest
  delivery: DeliverySettings
  wait?: WaitSettings
}

export interface RollbackResult {
  plan: RollbackPlan
  /** Absent when the history showed nothing to restore (no delivery was made). */
  delivery?: Delivery<RollbackOutcome>
  dryRun: boolean
  wait?: WaitReport
}

/** The history the rollback reads: the local checkout under -C, or the remote branch. */
export async function openHistory(
  delivery: DeliverySettings,
  platform: Platform
): Promise<FileHistory> {
  if (delivery.mode === 'local') {
    return FileHistory.open({kind: 'local', dir: delivery.root}, platform.redactor)
  }
  const branch = delivery.mode === 'push' ? delivery.branch : delivery.base
  return FileHistory.open(
    remoteHistorySource(delivery.repo, branch, delivery.env, platform.redactor, delivery.cwd),
    platform.redactor
  )
}

/** Finds what to restore and delivers it; used by `rollback` and by --rollback-on-failure. */
export async function runRollback(
  request: RollbackRequest,
  delivery: DeliverySettings,
  platform: Platform
): Promise<RollbackResult> {
  const history = await openHistory(delivery, platform)
  let plan: RollbackPlan
  try {
    plan = await findRestores(history, request)
  } finally {
    await history.close()
  }
  if (plan.restores.length === 0 && !plan.keys?.length)
    return {plan, dryRun: 'dryRun' in delivery ? delivery.dryRun : false}
  const d = await deliver(rollbackEdit(plan, request.reason), delivery, platform)
  return {plan, delivery: d, dryRun: d.dryRun}
}

function restoredList(r: RollbackResult) {
  const edits = r.delivery?.outcome.edits ?? []
  return edits.map(e => ({
    file: e.file,
    ...(e.key !== undefined ? {key: e.key} : {image: e.image ?? ''}),
    from: e.before,
    to: e.after
  }))
}

function reversed(r: RollbackResult): string[] {
  const touched = new Set(r.delivery?.outcome.files.map(f => f.file) ?? [])
  return [
    ...new Set(
      [...r.plan.restores, ...(r.plan.keys ?? [])]
        .filter(x => touched.has(x.file))
        .flatMap(x => x.reverses.map(c => c.sha))
    )
  ]
}

function lines(r: RollbackResult): string[] {
  const out = restoredList(r).map(
    e =>
      `${e.file}: ${'key' in e ? e.key : e.image} ${e.from ?? '(none)'} -> ${e.to ?? '(none)'} (restored)`
  )
  for (const m of r.delivery?.outcome.movedOn ?? []) {
    out.push(
      `${m.file}: ${m.name} left at ${formatPin(m.now)}: it changed since ${formatPin(m.expected)} (fixed forward?), not rolled back`
    )
  }
  for (const s of r.plan.skipped) out.push(`${s.file}: ${s.name}: ${s.reason}`)
  if (!r.delivery?.outcome.changed) out.push('nothing to roll back')
  else {
    const shas = reversed(r).map(s => s.slice(0, 12))
    out.push(`reverses ${shas.join(', ')}`)
  }
  return out
}

export const rollbackCommand = defineCommand<RollbackSettings, RollbackResult>({
  name: 'rollback',
  description:
    'Restore the image pins of overlays to before their last change (or --steps N back, or --to a commit), as a commit or a pull request',
  options: [
    rootOption('without --repo: the git checkout of the config repo to roll back in'),
    {
      name: 'path',
      type: 'list',
      description: 'directory with a kustomization, or a glob of them (apps/*/overlays/production)',
      gitlab: {required: true, description: 'Overlay directories to roll back; globs allowed.'}
    },
    {
      name: 'image',
      type: 'list',
      description:
        'only restore these images (kustomize images[].name); default: every image whose pin changed',
      gitlab: {description: 'Only these images (images[].name); empty: every changed pin.'}
    },
    {
      name: 'key',
      type: 'list',
      description:
        'also restore this YAML value (Helm values): <file>:<key.path>, e.g. apps/web/values.yaml:image.tag; repeatable',
      gitlab: {description: 'YAML values to restore too, as file:key.path (Helm values).'}
    },
    {
      name: 'to',
      type: 'string',
      description: 'restore the pins as they were at this config repo commit',
      gitlab: {description: 'Restore the pins as they were at this config repo commit.'}
    },
    {
      name: 'steps',
      type: 'string',
      description: 'how many pin changes back (our own rollbacks do not count); default 1',
      gitlab: {default: '', description: 'How many pin changes back; empty: 1.'}
    },
    {
      name: 'reason',
      type: 'string',
      description: 'why, for the commit message (e.g. "web 1.5.0 crash-loops")',
      gitlab: {description: 'Why, for the commit message.'}
    },
    dryRunOption('print what would be restored and write nothing'),
    ...deliveryOptions({defaultMode: 'push', local: true}),
    ...PR_OPTIONS,
    ...WAIT_OPTIONS
  ],
  outputSpecs: [
    {name: 'changed', description: "'true' when pins were restored (or would be, under dry-run)"},
    {name: 'restored', description: 'JSON array of {file, image, from, to}'},
    {
      name: 'reverses',
      description: 'JSON array of the config repo commits whose pin changes this reverses'
    },
    ...DELIVERY_OUTPUTS,
    ...WAIT_OUTPUTS
  ],
  gitlab: {
    description:
      'Roll back image pins in a GitOps config repo through git: restore what the overlays pinned before their last change (or N changes back, or at a commit), keeping every other edit; one commit pushed race-safely, or one merge request. Re-running does not roll back twice. Outputs GITOPS_CHANGED, GITOPS_RESTORED, GITOPS_COMMIT, ... as a dotenv report. Token: masked CI/CD variable GITOPS_TOKEN.'
  },
  settings(input, env, platform) {
    const paths = input.list('path').map(p => checkRelative(p.trim(), '--path'))
    const keys = input.list('key').map(k => k.trim())
    for (const k of keys) checkRelative(parseKeyArg(k).file, '--key file')
    if (!paths.length && !keys.length) {
      throw new UsageError(
        '--path is required: the overlay directories to roll back, e.g. --path apps/web/overlays/production (or --key <file>:<key.path> for a YAML value)'
      )
    }
    const rawSteps = input.string('steps')?.trim()
    const to = input.string('to')?.trim() || undefined
    if (rawSteps && to) throw new UsageError('--steps and --to exclude each other; give one')
    const steps = rawSteps ? Number(rawSteps) : 1
    if (!Number.isInteger(steps) || steps < 1 || steps > 1000) {
      throw new UsageError(
        `--steps '${rawSteps}' is not a whole number from 1 to 1000; e.g. --steps 2`
      )
    }
    if (to && !/^[0-9a-f]{7,40}$/i.test(to)) {
      throw new UsageError(
        `--to '${to}' is not a commit SHA; pass the config repo commit whose pins to restore`
      )
    }
    const delivery = readDelivery(
      input,
      env,
      {
        defaultMode: 'push',
        local: true,
        checkMessage: () => {
          throw new UsageError(
            '--message is not taken by rollback: its message names the commits it reverses and carries the Rollback-Of trailer that keeps a second run from rolling back twice; say why with --reason'
          )
        }
      },
      process.cwd()
    )
    if (delivery.mode === 'local') delivery.root = resolve(delivery.root)
    const reason = input.string('reason')?.trim() || undefined
    const wait = readWaitFlag(input, env, platform, delivery)
    return {
      request: {
        paths,
        images: input
          .list('image')
          .flatMap(i => i.split(/[,\s]+/))
          .filter(Boolean),
        ...(keys.length ? {keys} : {}),
        ...(to ? {to} : {}),
        steps,
        ...(reason ? {reason} : {})
      },
      delivery,
      ...(wait ? {wait} : {})
    }
  },
  async run(s, platform) {
    const r = await runRollback(s.request, s.delivery, platform)
    if (s.wait && r.delivery) {
      const wait = await runWaitAfter(s.wait, s.delivery, r.delivery, platform)
      if (wait) r.wait = wait
    }
    return r
  },
  outputs: r => ({
    changed: String(r.delivery?.outcome.changed ?? false),
    restored: JSON.stringify(restoredList(r)),
    reverses: JSON.stringify(reversed(r)),
    ...(r.delivery
      ? deliveryOutputs(r.delivery)
      : {commit: '', pushed: 'false', attempts: '0', branch: ''}),
    ...waitOutputs(r.wait)
  }),
  json: r => ({
    changed: r.delivery?.outcome.changed ?? false,
    restored: restoredList(r),
    reverses: reversed(r),
    movedOn: r.delivery?.outcome.movedOn ?? [],
    skipped: r.plan.skipped,
    dryRun: r.dryRun,
    ...(r.dryRun && r.delivery ? {diff: r.delivery.outcome.diff} : {}),
    ...(r.delivery ? deliveryJson(r.delivery) : {}),
    ...(r.wait ? {wait: waitJson(r.wait)} : {})
  }),
  summary(r) {
    const rows = restoredList(r).map(e =>
      tableRow([e.file, 'key' in e ? (e.key ?? '') : e.image, e.from ?? '', e.to ?? ''].map(cell))
    )
    const table = rows.length
      ? [...tableHead(['file', 'image', 'rolled back from', 'restored']), ...rows].join('\n')
      : 'Nothing to roll back.'
    const d = r.delivery
    const note = r.dryRun
      ? '\n\nDry run: nothing was written.'
      : d?.pr
        ? `\n\n${prLifecycleText(d.pr)}`
        : ''
    const remote = d?.remote ? remoteSummary(d.remote) : ''
    return `### rollback\n\n${table}${note}\n${remote}${r.wait ? `\n${waitSummary(r.wait)}` : ''}`
  },
  text(r) {
    const d = r.delivery
    const text = editText(lines(r), {
      changed: d?.outcome.changed ?? false,
      dryRun: r.dryRun,
      diff: d?.outcome.diff ?? '',
      ...(d?.pr ? {pr: d.pr} : {}),
      ...(d?.remote ? {remote: d.remote} : {})
    })
    return r.wait ? `${text}${waitText(r.wait).join('\n')}\n` : text
  },
  exitCode: r => Math.max(r.delivery ? deliveryExitCode(r.delivery) : 0, waitExitCode(r.wait))
})

// ------------------------------------------------------ --rollback-on-failure

/** `--rollback-on-failure`, for the commands that push and wait (set-image, promote). */
export const ROLLBACK_ON_FAILURE_OPTION: OptionSpec = {
  name: 'rollback-on-failure',
  type: 'boolean',
  description:
    'with --wait: when the apps do not become healthy, restore the pins this run changed (a Rollback-Of commit), push and wait for that; exit 1 either way',
  gitlab: {
    description:
      'With wait: when the deploy does not become healthy, push a rollback of the pins this job changed and wait for it; the job still fails.'
  }
}

export const ROLLBACK_OUTPUTS: OutputSpec[] = [
  {
    name: 'rolled-back',
    description:
      "with --rollback-on-failure: 'true' when a rollback was pushed, 'false' when none was (see the log), '' when the deploy was healthy"
  },
  {name: 'rollback-commit', description: "the rollback commit pushed, else ''"}
]

export function readRollbackOnFailure(input: InputReader, wait: WaitSettings | undefined): boolean {
  const on = input.boolean('rollback-on-failure') === true
  if (on && !wait) {
    throw new UsageError(
      '--rollback-on-failure only applies with --wait (it acts when the wait fails); add --wait --argocd-server <url>'
    )
  }
  return on
}

/** What --rollback-on-failure did after a failed wait. */
export type AutoRollback =
  {kind: 'rolled-back'; rollback: RollbackResult} | {kind: 'not-rolled-back'; reason: string}

/**
 * After a failed wait: undo the pins of the commit this run pushed, through
 * the same delivery, then wait for the rollback. Never pushed over a newer
 * commit that changed the same pins (someone already fixed forward).
 */
export async function rollbackAfterFailure(
  w: WaitSettings,
  settings: DeliverySettings,
  pushed: {commit: string | null; files: string[]; keys?: string[]},
  failed: WaitReport,
  platform: Platform
): Promise<AutoRollback> {
  if (settings.mode !== 'push' || !pushed.commit) {
    return {kind: 'not-rolled-back', reason: 'nothing was pushed by this run'}
  }
  const bad = failed.apps.filter(a => a.result !== 'healthy')
  const reason = `deploy of ${pushed.commit.slice(0, 12)} failed: ${bad
    .map(a => `${a.name} ${a.result === 'timeout' ? 'timed out' : a.health}`)
    .join(', ')}`
  platform.info(`rolling back: ${reason}`)
  const history = await openHistory(settings, platform)
  let plan: RollbackPlan
  try {
    plan = await findUndo(history, pushed.commit, pushed.files, reason, pushed.keys ?? [])
  } finally {
    await history.close()
  }
  if (!plan.restores.length && !plan.keys?.length) {
    return {
      kind: 'not-rolled-back',
      reason: 'this run changed no image pin or value that an earlier version had'
    }
  }
  const d = await deliver(rollbackEdit(plan, reason), settings, platform)
  if (!d.outcome.changed) {
    const moved = d.outcome.movedOn.map(m => `${m.name} is now ${formatPin(m.now)}`).join(', ')
    return {
      kind: 'not-rolled-back',
      reason: moved
        ? `a newer commit changed the same pins since (${moved}): someone fixed forward, the rollback was not pushed`
        : 'the pins were already restored'
    }
  }
  const rollback: RollbackResult = {plan, delivery: d, dryRun: false}
  // The rollback is one more deploy: wait for it too, without a second GitHub deployment.
  const {githubDeployment: _, ...plain} = w
  const wait = await runWaitAfter(plain, settings, d, platform)
  if (wait) rollback.wait = wait
  return {kind: 'rolled-back', rollback}
}

export function autoRollbackText(a: AutoRollback | undefined): string[] {
  if (!a) return []
  if (a.kind === 'not-rolled-back') return [`rollback: not rolled back: ${a.reason}`]
  const r = a.rollback
  const lines = [
    `rollback: pushed ${r.delivery?.commit ?? ''} restoring ${restoredList(r)
      .map(e => `${('key' in e ? e.key : e.image)?.split('/').pop()} ${e.to ?? ''}`)
      .join(', ')}`
  ]
  if (r.wait) lines.push(...waitText(r.wait).map(l => `  ${l}`))
  return lines
}

export function autoRollbackJson(a: AutoRollback | undefined) {
  if (!a) return {}
  if (a.kind === 'not-rolled-back') return {rollback: {rolledBack: false, reason: a.reason}}
  const r = a.rollback
  return {
    rollback: {
      rolledBack: true,
      commit: r.delivery?.commit ?? null,
      restored: restoredList(r),
      ...(r.wait ? {wait: waitJson(r.wait)} : {})
    }
  }
}

export function autoRollbackOutputs(a: AutoRollback | undefined): Outputs {
  if (!a) return {'rolled-back': '', 'rollback-commit': ''}
  return {
    'rolled-back': String(a.kind === 'rolled-back'),
    'rollback-commit': a.kind === 'rolled-back' ? (a.rollback.delivery?.commit ?? '') : ''
  }
}
