import {UsageError} from '../core/errors.js'
import type {NewNamePolicy} from '../core/promotion/pins.js'
import type {AppPromotion} from '../core/promotion/plan.js'
import {formatPin} from '../core/promotion/pins.js'
import {runPromotion, type PromoteResult, type PromoteSettings} from '../promote/run.js'
import {
  deliveryOptions,
  dryRunOption,
  PR_OPTIONS,
  readDelivery,
  RENDER_CHECK_OUTPUT,
  splitList
} from '../delivery/options.js'
import {checkMessageTemplate} from '../edits/promote.js'
import {checkOutputs} from '../delivery/report.js'
import {defineCommand, type Env, type InputReader, type OptionSpec} from './types.js'
import type {Platform} from '../platform/port.js'
import {
  AFTER_PUSH_OPTIONS,
  AFTER_PUSH_OUTPUTS,
  afterPushExitCode,
  afterPushJson,
  afterPushOutputs,
  afterPushSummary,
  afterPushText,
  readAfterPush,
  runAfterPush,
  type AfterPush,
  type AfterPushReport
} from './after-push.js'

type PromoteCommandSettings = PromoteSettings & {afterPush: AfterPush}
type PromoteCommandResult = PromoteResult & {afterPush?: AfterPushReport}

/** An environment name, or a directory template with {app}; GitLab checks it at pipeline creation. */
const ENVIRONMENT_REGEX = String.raw`^[A-Za-z0-9{][A-Za-z0-9._/{}-]*$`

// No `default:` fields: action.yml inputs are shared by every command and a default there
// would be fed to the others as if typed. Defaults live in the descriptions and in readSettings.
const OPTIONS: OptionSpec[] = [
  {
    name: 'from',
    type: 'string',
    description:
      'source environment (a name from .gitops-deploy.yaml, or a directory without that file)',
    gitlab: {
      required: true,
      regex: ENVIRONMENT_REGEX,
      description:
        'Source environment: a name from .gitops-deploy.yaml in the config repo, or (without that file) a directory template such as apps/{app}/overlays/staging.'
    }
  },
  {
    name: 'to',
    type: 'string',
    description: 'target environment (name or directory)',
    gitlab: {
      regex: `^(${ENVIRONMENT_REGEX.slice(1, -1)})?$`,
      description: 'Target environment, same forms as from. Give either to or next.'
    }
  },
  {
    name: 'next',
    type: 'boolean',
    description: 'target the environment after --from in .gitops-deploy.yaml',
    gitlab: {description: 'Promote to the environment after from in .gitops-deploy.yaml.'}
  },
  {
    name: 'app',
    type: 'list',
    description:
      'only these apps (globs over the {app} names; repeatable) (default: every app of --from)',
    gitlab: {
      description:
        'Globs of the apps to promote; empty means every app present in both environments.'
    }
  },
  {
    name: 'files',
    type: 'list',
    description:
      'also copy files matching these globs (relative to the environment directory) verbatim',
    gitlab: {
      description: 'Extra files (globs, relative to the environment directory) copied as they are.'
    }
  },
  {
    name: 'new-name',
    type: 'string',
    description:
      "keep: the target's own newName (e.g. a registry mirror) stays; copy: newName follows the source (default: keep)",
    choices: ['keep', 'copy'],
    gitlab: {
      default: 'keep',
      description:
        "keep leaves the target's own newName (e.g. a registry mirror); copy makes it follow the source."
    }
  },
  {
    name: 'add-missing',
    type: 'boolean',
    description:
      'add the pin for an image the source pins and the target has no images: entry for (by default reported as not promoted)',
    gitlab: {
      description:
        'Add the pin for an image the target has no images: entry for; by default such an image is reported as not promoted.'
    }
  },
  dryRunOption('push mode: plan and report, push nothing'),
  {
    name: 'skip-render',
    type: 'boolean',
    description: 'PR mode: leave the rendered manifest diff (kubectl kustomize) out of the PR body',
    gitlab: {
      section: 'run',
      description:
        'Leave the rendered manifest diff (kubectl kustomize) out of the merge request description.'
    }
  },
  // Where and how the promotion lands: the same flags, meanings and checks as every editing command.
  ...deliveryOptions({defaultMode: 'pr', local: false}),
  ...PR_OPTIONS,
  ...AFTER_PUSH_OPTIONS
]

export const promoteCommand = defineCommand<PromoteCommandSettings, PromoteCommandResult>({
  name: 'promote',
  description: 'Copy image pins from one environment to the next, as a commit or a pull request',
  options: OPTIONS,
  outputSpecs: [
    RENDER_CHECK_OUTPUT,
    {
      name: 'changed',
      description:
        "'true' when the promotion changes a file in the target (or would, under dry-run; in PR mode: the PR carries a change), else 'false'"
    },
    {
      name: 'commit',
      description: "sha of the commit this run pushed (to --branch, or the PR head); '' when none"
    },
    {name: 'pushed', description: "'true' when a commit was pushed"},
    {name: 'attempts', description: 'push attempts used (push mode)'},
    {
      name: 'branch',
      description: 'the branch written: --branch in push mode, the PR head branch in PR mode'
    },
    {name: 'pr-number', description: 'PR number (GitHub) or MR iid (GitLab)'},
    {name: 'pr-url', description: 'web URL of the PR/MR'},
    {
      name: 'pr-operation',
      description: 'created, updated, unchanged, or no-op (the target already matches)'
    },
    {
      name: 'promoted',
      description: 'JSON list of promoted apps: [{app, images: [{name, from, to}], files: [...]}]'
    },
    {
      name: 'missing',
      description: 'JSON list of apps that exist in the source but not in the target'
    },
    {name: 'transport', description: "the commit transport used, 'git' or 'api'"},
    {
      name: 'verified',
      description:
        "'true'/'false' when the forge reported the commit's signature (pushed or PR head commit), else ''"
    },
    ...AFTER_PUSH_OUTPUTS
  ],
  gitlab: {
    description:
      'Promote image pins from one environment to the next (dev -> staging -> production) in one commit or one merge request, which is the approval gate. Outputs GITOPS_CHANGED, GITOPS_COMMIT, GITOPS_MR_URL, ... as a dotenv report. Token: masked CI/CD variable GITOPS_TOKEN.',
    // The delivery flags mean the same here; what promote says about them differs.
    inputs: {
      branch: {description: 'Branch that holds both environments; empty means the default branch.'},
      message: {
        description:
          'Commit subject; {{from}}, {{to}}, {{apps}} and {{summary}} are filled in. Empty means "Promote {{from}} to {{to}}: {{apps}}".'
      },
      mode: {
        default: 'pr',
        description:
          'pr opens or updates one merge request (the approval gate); push commits directly.'
      }
    }
  },
  settings: (input, env, platform) => readSettings(input, env, platform),
  async run(settings, platform) {
    const r: PromoteCommandResult = await runPromotion(settings, platform)
    if (r.delivery) {
      r.afterPush = await runAfterPush(
        settings.afterPush,
        settings.delivery,
        r.delivery,
        platform,
        {environmentName: r.to}
      )
    }
    return r
  },
  outputs: r => ({
    ...afterPushOutputs(r.afterPush ?? {}),
    ...changeOutputs(r),
    pushed: String(r.pushed),
    attempts: r.attempts === undefined ? '' : String(r.attempts),
    branch: r.branch ?? '',
    'pr-number': r.pr ? String(r.pr.number) : '',
    'pr-url': r.pr?.url ?? '',
    'pr-operation': r.prOperation ?? '',
    promoted: JSON.stringify(promotedList(r.apps)),
    missing: JSON.stringify(r.apps.filter(a => a.status === 'missing-in-target').map(a => a.app)),
    transport: r.transport ?? '',
    verified: r.verified === undefined ? '' : String(r.verified),
    ...checkOutputs(r.delivery?.checks)
  }),
  json: r => ({
    ...afterPushJson(r.afterPush ?? {}),
    from: r.from,
    to: r.to,
    mode: r.mode,
    outcome: r.outcome,
    changed: r.changed,
    pushed: r.pushed,
    commit: r.commit ?? null,
    branch: r.branch ?? null,
    attempts: r.attempts ?? null,
    pr: r.pr ? {number: r.pr.number, url: r.pr.url, operation: r.prOperation} : null,
    transport: r.transport ?? null,
    transportReason: r.transportReason ?? null,
    verified: r.verified ?? null,
    ...(r.verificationReason ? {verification: r.verificationReason} : {}),
    ...(r.verificationFailure ? {error: r.verificationFailure} : {}),
    ...(r.rejected ? {rejected: r.rejected} : {}),
    ...(r.delivery?.checks.length ? {checks: r.delivery.checks} : {}),
    apps: r.apps.map(a => ({
      app: a.app,
      status: a.status,
      source: a.sourceDir,
      target: a.targetDir,
      images: a.images.map(i => {
        switch (i.kind) {
          case 'promoted':
            return {
              name: i.name,
              status: i.kind,
              from: i.added ? null : formatPin(i.before),
              to: formatPin(i.after),
              ...(i.added ? {added: true} : {}),
              ...(i.downgrade ? {downgrade: true} : {})
            }
          case 'unchanged':
          case 'not-in-target':
            return {name: i.name, status: i.kind, pin: formatPin(i.pin)}
          case 'skipped':
            return {name: i.name, status: i.kind, reason: i.reason}
          default:
            return {name: i.name, status: i.kind}
        }
      }),
      files: a.files
    }))
  }),
  summary: r => summaryOf(r) + afterPushSummary(r.afterPush ?? {}),
  text: r => textOf(r) + afterPushText(r.afterPush ?? {}),
  exitCode: r =>
    Math.max(
      r.outcome === 'rejected' || r.verificationFailure ? 1 : 0,
      afterPushExitCode(r.afterPush ?? {})
    )
})

function promotedList(apps: AppPromotion[]) {
  return apps
    .filter(a => a.status === 'promoted')
    .map(a => ({
      app: a.app,
      images: a.images.flatMap(i =>
        i.kind === 'promoted'
          ? [{name: i.name, from: formatPin(i.before), to: formatPin(i.after)}]
          : []
      ),
      files: a.files.filter(f => f.kind !== 'unchanged').map(f => f.to)
    }))
}

function readSettings(input: InputReader, env: Env, platform: Platform): PromoteCommandSettings {
  if (!input.string('repo')?.trim())
    throw new UsageError('--repo is required: the config repository URL or path')
  const from = input.string('from')
  if (!from) throw new UsageError('--from is required: the environment to promote from')
  const to = input.string('to')
  const next = input.boolean('next') === true
  if (to && next) throw new UsageError('pass either --to <env> or --next, not both')
  if (!to && !next) throw new UsageError('say where to promote to: --to <env> or --next')
  const policy = input.string('new-name') ?? 'keep'
  if (policy !== 'keep' && policy !== 'copy') {
    throw new UsageError(`--new-name '${policy}' is not known; use keep (default) or copy`)
  }
  const delivery = readDelivery(
    input,
    env,
    {
      defaultMode: 'pr',
      local: false,
      checkMessage: checkMessageTemplate,
      baseNamesPushBranch: true
    },
    process.cwd()
  )
  if (delivery.mode === 'local')
    throw new UsageError('--repo is required: the config repository URL or path')
  if (delivery.mode === 'push' && input.boolean('skip-render')) {
    throw new UsageError('--skip-render only applies to --mode pr; drop it or use --mode pr')
  }
  return {
    request: {
      from,
      to,
      next,
      apps: splitList(input.list('app')),
      files: splitList(input.list('files')),
      policy: policy as NewNamePolicy,
      ...(input.boolean('add-missing') === true ? {addMissing: true} : {})
    },
    delivery,
    render: input.boolean('skip-render') !== true,
    afterPush: readAfterPush(input, env, platform, delivery)
  }
}

function statusLine(a: AppPromotion, to: string): string {
  if (a.status === 'missing-in-target')
    return `${a.app}: not in ${to} (${a.targetDir} has no kustomization) — not created`
  const status = {
    promoted: 'promoted',
    unchanged: 'already identical',
    'not-promoted': `not promoted: ${to} has no entry for what the source pins`
  }[a.status]
  const lines = [`${a.app}: ${status}`]
  for (const i of a.images) {
    if (i.kind === 'promoted')
      lines.push(
        `  ${i.name}: ${i.added ? `(no entry) -> ${formatPin(i.after)}, entry added` : `${formatPin(i.before)} -> ${formatPin(i.after)}`}${i.downgrade ? ' (downgrade: an older version than it ran)' : ''}`
      )
    else if (i.kind === 'not-in-target')
      lines.push(
        `  ${i.name}: pinned in the source only (${formatPin(i.pin)}); not added to ${to} (--add-missing adds it)`
      )
    else if (i.kind === 'skipped') lines.push(`  ${i.name}: skipped — ${i.reason}`)
  }
  for (const f of a.files)
    if (f.kind !== 'unchanged') lines.push(`  ${f.to}: ${f.kind} from ${f.from}`)
  return lines.join('\n')
}

function headline(r: PromoteResult): string {
  switch (r.outcome) {
    case 'pushed':
      return `promoted ${r.from} -> ${r.to}: commit ${r.commit?.slice(0, 12)} on ${r.branch} (${r.attempts} attempt${r.attempts === 1 ? '' : 's'})`
    case 'unchanged':
      return notPromoted(r) ?? `nothing to promote: ${r.to} already has the pins of ${r.from}`
    case 'dry-run':
      return `dry run: would promote ${r.from} -> ${r.to} on ${r.branch}; nothing pushed`
    case 'rejected':
      return `push to ${r.branch} refused (${r.rejected?.reason}): ${r.rejected?.detail}`
    case 'pr':
      return `pull request #${r.pr!.number} ${r.prOperation}: ${r.pr!.url}`
    case 'no-op':
      return (
        notPromoted(r) ??
        `nothing to promote: ${r.to} already has the pins of ${r.from}; no pull request needed`
      )
  }
}

/** The headline when nothing changed because the target lacks entries: never "already has the pins". */
function notPromoted(r: PromoteResult): string | undefined {
  const apps = r.apps.filter(a => a.status === 'not-promoted').map(a => a.app)
  if (!apps.length) return undefined
  return `nothing promoted: ${apps.join(', ')} in ${r.to} ${apps.length === 1 ? 'has' : 'have'} no entry for images ${r.from} pins; add them with --add-missing`
}

function transportLine(r: PromoteResult): string | undefined {
  if (!r.transport) return undefined
  const signed =
    r.verified === undefined
      ? ''
      : r.verified
        ? '; commit verified'
        : `; commit not verified (${r.verificationReason ?? 'unknown'})`
  return `transport: ${r.transport} (${r.transportReason})${signed}`
}

function textOf(r: PromoteResult): string {
  const lines = [headline(r), ...r.apps.map(a => statusLine(a, r.to))]
  const t = transportLine(r)
  if (t) lines.push(t)
  if (r.verificationFailure) lines.unshift(`error: ${r.verificationFailure}`)
  return lines.join('\n')
}

function summaryOf(r: PromoteResult): string {
  const rows = r.apps.flatMap(a => {
    if (a.status === 'missing-in-target') return [`| ${a.app} | | not in ${r.to} | |`]
    if (a.status === 'unchanged') return [`| ${a.app} | | already identical | |`]
    if (a.status === 'not-promoted')
      return a.images.flatMap(i =>
        i.kind === 'not-in-target'
          ? [`| ${a.app} | \`${i.name}\` | no entry in ${r.to} | not promoted (--add-missing) |`]
          : []
      )
    return [
      ...a.images.flatMap(i =>
        i.kind === 'promoted'
          ? [
              `| ${a.app} | \`${i.name}\` | ${i.added ? '(no entry)' : `\`${formatPin(i.before)}\``} | \`${formatPin(i.after)}\`${i.downgrade ? ' (downgrade)' : ''} |`
            ]
          : []
      ),
      ...a.files
        .filter(f => f.kind !== 'unchanged')
        .map(f => `| ${a.app} | \`${f.to}\` | ${f.kind} | copy of \`${f.from}\` |`)
    ]
  })
  return [
    `### Promote ${r.from} → ${r.to}`,
    '',
    headline(r).replace(/^./, c => c.toUpperCase()),
    '',
    '| App | Image / file | Before | After |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    ...(transportLine(r) ? [transportLine(r)!.replace(/^transport:/, '**Transport:**'), ''] : []),
    ...(r.verificationFailure ? [`**Error:** ${r.verificationFailure}`, ''] : [])
  ].join('\n')
}

/**
 * `changed` and `commit` as action.yml documents them for every command: `changed` says whether
 * the promotion changes the target (a dry run that would change it, and an existing PR already
 * carrying the change, count), `commit` is only ever a commit this run pushed, never the base.
 */
export function changeOutputs(r: PromoteResult): {changed: string; commit: string} {
  const changed = r.outcome === 'pushed' || r.outcome === 'dry-run' || r.outcome === 'pr'
  return {changed: String(changed), commit: r.pushed && r.commit ? r.commit : ''}
}
