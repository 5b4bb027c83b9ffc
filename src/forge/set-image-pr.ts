import {UsageError} from '../core/errors.js'
import type {Env, InputReader, OptionSpec} from '../platform/inputs.js'
import {planEdits, writeEdits, type EditOutcome, type EditRequest} from '../edit/apply.js'
import {TOKEN_VARIABLE} from '../git/auth.js'
import type {Platform} from '../platform/port.js'
import {prLifecycleJson, prLifecycleOutputs, prLifecycleText} from '../commands/render-edits.js'
import type {MergeMethod} from './forge.js'
import {openForge, prTransport} from './open-forge.js'
import {readTransport, type TransportSettings} from '../transport/select.js'
import {setImageApiPlanner} from '../transport/set-image-planner.js'
import {sourceRepoFromEnv, type PrChange} from './pr-body.js'
import {runPrLifecycle, type PrLifecycleInput, type PrLifecycleResult} from './pr-lifecycle.js'

/**
 * `set-image --mode pr`: the same edit as the local command, applied to a
 * fresh checkout of the config repo's base branch and proposed as a pull or
 * merge request through the PR lifecycle.
 */

export const DEFAULT_PR_AUTHOR = 'gitops-deploy <gitops-deploy@users.noreply.github.com>'

/**
 * The flags `--mode pr` adds; one table for the CLI, action.yml and the GitLab
 * component. No `default:` fields on purpose: action.yml inputs are shared by
 * all commands and the first definition wins, so a default here would be fed
 * to promote (whose defaults differ) as if the user had typed it. Defaults are
 * applied in readPrSettings and stated in the descriptions.
 */
export const PR_OPTIONS: OptionSpec[] = [
  {
    name: 'mode',
    type: 'string',
    description:
      'push (default): edit the files under --root, or commit and push to --repo; pr: propose the edit to --repo as a pull/merge request'
  },
  {
    name: 'repo',
    type: 'string',
    description:
      'config repository for --mode pr: https:// URL (token from GITOPS_TOKEN), ssh or file://'
  },
  {
    name: 'pr-branch',
    type: 'string',
    description:
      'PR head branch template ({{base}}, {{path}}, {{image}} …); same value = same PR (default: gitops-deploy/{{base}}/{{path}})'
  },
  {
    name: 'base',
    type: 'string',
    description: "PR base branch (default: the repository's default branch)"
  },
  {
    name: 'title',
    type: 'string',
    description:
      'PR title template ({{summary}}, {{images}}, {{path}}, {{base}} …) (default: Deploy {{summary}} to {{path}})'
  },
  {
    name: 'body',
    type: 'string',
    description: 'text (template) shown above the generated change table'
  },
  {name: 'labels', type: 'list', description: 'labels to add to the PR'},
  {name: 'reviewers', type: 'list', description: 'users to request a review from'},
  {
    name: 'team-reviewers',
    type: 'list',
    description: 'GitHub teams (slugs) to request a review from'
  },
  {name: 'assignees', type: 'list', description: 'users to assign the PR to'},
  {name: 'draft', type: 'boolean', description: 'open the PR as a draft'},
  {
    name: 'auto-merge',
    type: 'string',
    description:
      "merge, squash or rebase: GitHub's native auto-merge; GitLab: merge when the pipeline succeeds"
  },
  {
    name: 'provider',
    type: 'string',
    description: 'github or gitlab (default: detected from the repo host)'
  },
  {
    name: 'api-url',
    type: 'string',
    description:
      'REST API base, e.g. GHES https://host/api/v3, GitLab https://host/api/v4 (default: GITHUB_API_URL / CI_API_V4_URL, else derived from the repo host)'
  },
  {
    name: 'author',
    type: 'string',
    description: `commit author as "Name <email>" (default: ${DEFAULT_PR_AUTHOR})`
  }
]

export const PR_OUTPUTS = [
  {name: 'pr-number', description: 'PR number (GitHub) or MR iid (GitLab); empty for no-op'},
  {name: 'pr-url', description: 'web URL of the PR/MR; empty for no-op'},
  {name: 'pr-operation', description: 'created, updated, unchanged or no-op'}
]

/** The PR-mode settings set-image, argo-app and promote read the same way. */
export interface PrRequestSettings {
  labels: string[]
  reviewers: string[]
  teamReviewers: string[]
  assignees: string[]
  draft: boolean
  autoMerge?: MergeMethod
  provider?: string
  apiUrl?: string
}

export interface SetImagePrSettings extends PrRequestSettings {
  repo: string
  base?: string
  branchTemplate?: string
  title?: string
  body?: string
  author: {name: string; email: string}
  /** --author given explicitly (GitHub API commits cannot honour it). */
  authorGiven: boolean
  /** How the PR branch commit is made; absent: git (library callers predating --transport). */
  transport?: TransportSettings
  env: Env
}

export interface SetImagePrResult {
  outcome: EditOutcome
  lifecycle: PrLifecycleResult
}

export function readMode(input: InputReader): 'push' | 'pr' {
  const mode = input.string('mode') ?? 'push'
  if (mode !== 'push' && mode !== 'pr') {
    throw new UsageError(
      `--mode '${mode}' is not known; use push (write directly) or pr (open a pull request)`
    )
  }
  return mode
}

/** The PR decorations and forge location, read the same way for every command. */
export function readPrRequest(input: InputReader): PrRequestSettings {
  const autoMerge = input.string('auto-merge')?.trim() || undefined
  if (autoMerge !== undefined && !['merge', 'squash', 'rebase'].includes(autoMerge)) {
    throw new UsageError(`--auto-merge '${autoMerge}' is not known; use merge, squash or rebase`)
  }
  const draft = input.boolean('draft') === true
  if (draft && autoMerge) {
    throw new UsageError(
      '--draft and --auto-merge contradict each other (a draft cannot merge); drop one'
    )
  }
  return {
    labels: splitList(input.list('labels')),
    reviewers: splitList(input.list('reviewers')),
    teamReviewers: splitList(input.list('team-reviewers')),
    assignees: splitList(input.list('assignees')),
    draft,
    autoMerge: autoMerge as MergeMethod | undefined,
    provider: input.string('provider')?.trim() || undefined,
    apiUrl: input.string('api-url')?.trim() || undefined
  }
}

/** What the lifecycle takes from the PR settings as they are. */
export function prDecorations(
  s: PrRequestSettings
): Pick<
  PrLifecycleInput,
  'labels' | 'reviewers' | 'teamReviewers' | 'assignees' | 'draft' | 'autoMerge'
> {
  return {
    labels: s.labels,
    reviewers: s.reviewers,
    teamReviewers: s.teamReviewers,
    assignees: s.assignees,
    draft: s.draft,
    autoMerge: s.autoMerge
  }
}

export function readPrSettings(input: InputReader, env: Env): SetImagePrSettings {
  const repo = input.string('repo')
  if (!repo)
    throw new UsageError(
      '--mode pr needs --repo <config repo URL>; e.g. --repo https://github.com/acme/config.git'
    )
  if (input.boolean('dry-run')) {
    throw new UsageError(
      '--dry-run edits nothing remote; drop it with --mode pr, or run without --mode pr to preview locally'
    )
  }
  const request = readPrRequest(input)
  if (!env[TOKEN_VARIABLE]?.trim()) {
    throw new UsageError(
      `--mode pr needs an API token in ${TOKEN_VARIABLE} (the action's \`token\` input): GitHub contents:write + pull-requests:write, GitLab api scope`
    )
  }
  return {
    repo,
    base: input.string('base'),
    branchTemplate: input.string('pr-branch'),
    title: input.string('title'),
    body: input.string('body'),
    ...request,
    author: parseAuthor(input.string('author') ?? DEFAULT_PR_AUTHOR),
    authorGiven: Boolean(input.string('author')?.trim()),
    transport: readTransport(input),
    env
  }
}

export async function runSetImagePr(
  s: SetImagePrSettings,
  request: EditRequest,
  platform: Platform
): Promise<SetImagePrResult> {
  const {forge, repoUrl, gitConfig} = openForge(s, platform)
  let outcome: EditOutcome | undefined
  const apiPlanner = setImageApiPlanner(request)
  const lifecycle = await runPrLifecycle({
    repoUrl,
    gitConfig,
    forge,
    ...prTransport(
      {...s, transport: s.transport ?? {choice: 'git', requireVerified: false}},
      repoUrl,
      platform,
      async view => {
        const planned = await apiPlanner.plan(view)
        outcome = planned.outcome
        return {changes: prChanges(planned.outcome), writes: planned.writes}
      }
    ),
    base: s.base,
    branchTemplate: s.branchTemplate,
    titleTemplate: s.title,
    bodyTemplate: s.body,
    // Like the local command: images without --path edit the root kustomization.
    paths:
      request.paths.length > 0
        ? request.paths
        : request.images.length > 0
          ? ['.']
          : request.sets.map(x => x.split(':')[0]),
    ...prDecorations(s),
    source: sourceRepoFromEnv(s.env),
    identity: s.author,
    log: platform,
    redactor: platform.redactor,
    edit: async worktree => {
      outcome = await planEdits(worktree, request)
      if (!outcome.changed) return []
      await writeEdits(worktree, outcome)
      return prChanges(outcome)
    }
  })
  return {outcome: outcome!, lifecycle}
}

function prChanges(outcome: EditOutcome): PrChange[] {
  if (!outcome.changed) return []
  return outcome.edits.map(e => ({
    file: e.file,
    ...(e.image !== undefined ? {image: e.image} : {}),
    ...(e.key !== undefined ? {key: e.key} : {}),
    before: e.before ?? '',
    after: e.after ?? ''
  }))
}

export function prOutputs(r: SetImagePrResult | undefined): Record<string, string> {
  if (!r) return {}
  return prLifecycleOutputs(r.lifecycle)
}

export function prJson(r: SetImagePrResult | undefined): Record<string, unknown> {
  if (!r) return {}
  return prLifecycleJson(r.lifecycle)
}

export function prText(r: SetImagePrResult): string {
  return prLifecycleText(r.lifecycle)
}

/** Action inputs arrive one per line; a comma-separated line is accepted too. */
export function splitList(values: string[]): string[] {
  return values
    .flatMap(v => v.split(/[,\n]/))
    .map(v => v.trim())
    .filter(Boolean)
}

export function parseAuthor(text: string): {name: string; email: string} {
  const m = /^\s*([^<>]+?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(text)
  if (!m)
    throw new UsageError(
      `--author '${text}' is not "Name <email>"; e.g. --author "Deploy Bot <bot@example.com>"`
    )
  return {name: m[1], email: m[2]}
}
