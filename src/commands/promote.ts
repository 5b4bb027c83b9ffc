import {UsageError} from '../core/errors.js'
import type {NewNamePolicy} from '../core/promotion/pins.js'
import type {AppPromotion} from '../core/promotion/plan.js'
import {formatPin} from '../core/promotion/pins.js'
import {runPromotion, type PromoteResult, type PromoteSettings} from '../promote/run.js'
import {
  DEFAULT_PR_AUTHOR,
  PR_OPTIONS,
  parseAuthor,
  readPrRequest,
  splitList
} from '../forge/set-image-pr.js'
import {TOKEN_VARIABLE} from '../git/auth.js'
import {defineCommand, type Env, type InputReader, type OptionSpec} from './types.js'
import {TRANSPORT_OPTIONS, readTransport} from '../transport/select.js'

const SHARED_PR_OPTIONS = [
  'labels',
  'reviewers',
  'team-reviewers',
  'assignees',
  'draft',
  'auto-merge',
  'provider',
  'api-url',
  'author'
]

// No `default:` fields: action.yml inputs are shared by every command and a default there
// would be fed to the others as if typed. Defaults live in the descriptions and in readSettings.
const OPTIONS: OptionSpec[] = [
  {
    name: 'repo',
    type: 'string',
    description: 'config repository: https:// or ssh:// URL, git@host:path, or a local path'
  },
  {
    name: 'branch',
    type: 'string',
    description:
      "config repo branch to promote on (PR mode: the PR's base) (default: the remote's default branch)"
  },
  {
    name: 'from',
    type: 'string',
    description:
      'source environment (a name from .gitops-deploy.yaml, or a directory without that file)'
  },
  {name: 'to', type: 'string', description: 'target environment (name or directory)'},
  {
    name: 'next',
    type: 'boolean',
    description: 'target the environment after --from in .gitops-deploy.yaml'
  },
  {
    name: 'app',
    type: 'list',
    description:
      'only these apps (globs over the {app} names; repeatable) (default: every app of --from)'
  },
  {
    name: 'mode',
    type: 'string',
    description: 'push: one commit on --branch; pr: one pull/merge request (default: pr)'
  },
  {
    name: 'files',
    type: 'list',
    description:
      'also copy files matching these globs (relative to the environment directory) verbatim'
  },
  {
    name: 'new-name',
    type: 'string',
    description:
      "keep: the target's own newName (e.g. a registry mirror) stays; copy: newName follows the source (default: keep)"
  },
  {
    name: 'message',
    type: 'string',
    description:
      'commit subject; {{from}}, {{to}}, {{apps}} and {{summary}} are filled in (default: Promote {{from}} to {{to}}: {{apps}})'
  },
  {
    name: 'max-attempts',
    type: 'string',
    description: 'push attempts when other jobs move the branch concurrently (default: 5)'
  },
  {name: 'dry-run', type: 'boolean', description: 'push mode: plan and report, push nothing'},
  {
    name: 'skip-render',
    type: 'boolean',
    description: 'PR mode: leave the rendered manifest diff (kubectl kustomize) out of the PR body'
  },
  {
    name: 'pr-branch',
    type: 'string',
    description:
      'PR head branch; re-runs with the same value update the same PR (default: gitops-deploy/promote/<from>-to-<to>)'
  },
  {
    name: 'base',
    type: 'string',
    description: "PR base branch (same as --branch) (default: the repository's default branch)"
  },
  {
    name: 'title',
    type: 'string',
    description:
      'PR title; {{base}}, {{branch}}, {{summary}} are filled in (default: Promote <from> to <to>: <apps>)'
  },
  {name: 'body', type: 'string', description: 'text shown above the generated PR description'},
  // The PR options mean the same as for set-image; one definition keeps the action inputs in step.
  ...PR_OPTIONS.filter(o => SHARED_PR_OPTIONS.includes(o.name)),
  ...TRANSPORT_OPTIONS
]

export const promoteCommand = defineCommand<PromoteSettings, PromoteResult>({
  name: 'promote',
  description: 'Copy image pins from one environment to the next, as a commit or a pull request',
  options: OPTIONS,
  outputSpecs: [
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
    }
  ],
  settings: (input, env) => readSettings(input, env),
  run: (settings, platform) => runPromotion(settings, platform),
  outputs: r => ({
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
    verified: r.verified === undefined ? '' : String(r.verified)
  }),
  json: r => ({
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
    apps: r.apps.map(a => ({
      app: a.app,
      status: a.status,
      source: a.sourceDir,
      target: a.targetDir,
      images: a.images.map(i => {
        switch (i.kind) {
          case 'promoted':
            return {name: i.name, status: i.kind, from: formatPin(i.before), to: formatPin(i.after)}
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
  summary: r => summaryOf(r),
  text: r => textOf(r),
  exitCode: r => (r.outcome === 'rejected' || r.verificationFailure ? 1 : 0)
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

function readSettings(input: InputReader, env: Env): PromoteSettings {
  const repo = input.string('repo')
  if (!repo) throw new UsageError('--repo is required: the config repository URL or path')
  const from = input.string('from')
  if (!from) throw new UsageError('--from is required: the environment to promote from')
  const to = input.string('to')
  const next = input.boolean('next') === true
  if (to && next) throw new UsageError('pass either --to <env> or --next, not both')
  if (!to && !next) throw new UsageError('say where to promote to: --to <env> or --next')
  const mode = input.string('mode') ?? 'pr'
  if (mode !== 'pr' && mode !== 'push')
    throw new UsageError(`--mode '${mode}' is not known; use pr or push`)
  const policy = input.string('new-name') ?? 'keep'
  if (policy !== 'keep' && policy !== 'copy') {
    throw new UsageError(`--new-name '${policy}' is not known; use keep (default) or copy`)
  }
  const attemptsText = input.string('max-attempts') ?? '5'
  const maxAttempts = Number(attemptsText)
  if (!/^\d+$/.test(attemptsText.trim()) || maxAttempts < 1 || maxAttempts > 50) {
    throw new UsageError(
      `--max-attempts must be a whole number from 1 to 50, got '${attemptsText}'`
    )
  }
  const prRequest = readPrRequest(input)
  const autoMerge = prRequest.autoMerge
  const branch = input.string('branch')
  const base = input.string('base')
  if (branch && base && branch !== base) {
    throw new UsageError(
      `--branch '${branch}' and --base '${base}' differ; in PR mode they name the same branch, give one`
    )
  }
  const prOnly = ['pr-branch', 'title', 'body'].filter(n => input.string(n) !== undefined)
  const prLists = ['labels', 'reviewers', 'team-reviewers', 'assignees'].filter(
    n => input.list(n).length > 0
  )
  const prFlags = ['draft'].filter(n => input.boolean(n))
  const prAll = [...prOnly, ...prLists, ...prFlags, ...(autoMerge ? ['auto-merge'] : [])]
  if (mode === 'push' && prAll.length > 0) {
    throw new UsageError(`--${prAll[0]} only applies to --mode pr; drop it or use --mode pr`)
  }
  if (mode === 'pr' && input.boolean('dry-run')) {
    throw new UsageError(
      '--dry-run applies to --mode push; in PR mode the PR itself is the preview'
    )
  }
  if (mode === 'pr' && !env[TOKEN_VARIABLE]?.trim()) {
    throw new UsageError(
      `PR mode needs an API token in ${TOKEN_VARIABLE} (the action's \`token\` input): GitHub \`contents: write\` + \`pull-requests: write\`, GitLab \`api\` scope; or use --mode push`
    )
  }
  const message = input.string('message')
  if (message !== undefined) checkMessageTemplate(message)
  const transport = readTransport(input)
  return {
    repo,
    branch: branch ?? base,
    request: {
      from,
      to,
      next,
      apps: splitList(input.list('app')),
      files: splitList(input.list('files')),
      policy: policy as NewNamePolicy
    },
    mode,
    message,
    author: parseAuthor(input.string('author') ?? DEFAULT_PR_AUTHOR),
    authorGiven: Boolean(input.string('author')?.trim()),
    transport,
    maxAttempts,
    dryRun: input.boolean('dry-run') === true,
    render: input.boolean('skip-render') !== true,
    pr: {
      branch: input.string('pr-branch'),
      title: input.string('title'),
      body: input.string('body'),
      ...prRequest
    },
    env
  }
}

export const MESSAGE_VARIABLES = ['from', 'to', 'apps', 'summary'] as const

function checkMessageTemplate(template: string): void {
  for (const m of template.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    if (!(MESSAGE_VARIABLES as readonly string[]).includes(m[1])) {
      throw new UsageError(
        `--message uses unknown variable {{${m[1]}}}; use ${MESSAGE_VARIABLES.map(v => `{{${v}}}`).join(', ')}`
      )
    }
  }
  if (template.trim() === '')
    throw new UsageError('--message is empty; give a commit subject or leave it out')
}

function statusLine(a: AppPromotion, to: string): string {
  if (a.status === 'missing-in-target')
    return `${a.app}: not in ${to} (${a.targetDir} has no kustomization) — not created`
  const lines = [`${a.app}: ${a.status === 'promoted' ? 'promoted' : 'already identical'}`]
  for (const i of a.images) {
    if (i.kind === 'promoted')
      lines.push(`  ${i.name}: ${formatPin(i.before)} -> ${formatPin(i.after)}`)
    else if (i.kind === 'not-in-target')
      lines.push(`  ${i.name}: pinned in the source only (${formatPin(i.pin)}); not added to ${to}`)
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
      return `nothing to promote: ${r.to} already has the pins of ${r.from}`
    case 'dry-run':
      return `dry run: would promote ${r.from} -> ${r.to} on ${r.branch}; nothing pushed`
    case 'rejected':
      return `push to ${r.branch} refused (${r.rejected?.reason}): ${r.rejected?.detail}`
    case 'pr':
      return `pull request #${r.pr!.number} ${r.prOperation}: ${r.pr!.url}`
    case 'no-op':
      return `nothing to promote: ${r.to} already has the pins of ${r.from}; no pull request needed`
  }
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
    return [
      ...a.images.flatMap(i =>
        i.kind === 'promoted'
          ? [
              `| ${a.app} | \`${i.name}\` | \`${formatPin(i.before)}\` | \`${formatPin(i.after)}\` |`
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
