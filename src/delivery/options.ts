/**
 * The delivery flags, declared and parsed once for every command that edits
 * the config repo (set-image, argo-app, promote, set-chart-version): where
 * the edit lands (--mode, --repo, -C), how (--transport, --max-attempts,
 * --author, --message) and, in PR mode, what the pull request looks like.
 * A flag that does not apply to the chosen mode is a usage error on every
 * path, never silently dropped.
 */
import type {Backoff} from '../core/backoff.js'
import {UsageError} from '../core/errors.js'
import type {Guard} from '../edits/edit.js'
import {RENDER_CHECK_MODES, type RenderCheckMode} from '../edits/render-check.js'
import type {NamedRenderer} from '../edits/renderer.js'
import type {MergeMethod} from '../forge/forge.js'
import type {RepoApi} from '../forge/repo-api.js'
import {TOKEN_VARIABLE} from '../git/auth.js'
import type {Identity} from '../git/git.js'
import type {Env, InputReader, OptionSpec, OutputSpec} from '../platform/inputs.js'
import {readTransport, TRANSPORT_OPTIONS, type TransportSettings} from './choose-transport.js'
import {checkRelative} from '../edits/workspace.js'

export const DEFAULT_AUTHOR: Identity = {
  name: 'gitops-deploy',
  email: 'gitops-deploy@users.noreply.github.com'
}
/** For the descriptions: the identity as `Name <email>`. */
export const DEFAULT_PR_AUTHOR = `${DEFAULT_AUTHOR.name} <${DEFAULT_AUTHOR.email}>`

/**
 * One budget for every remote loop of one run: push races, transient server
 * failures on clone/fetch/push, API commit races and the PR branch's lease.
 * 10 rides out a burst of concurrent pipelines (the bench's 16 writers need
 * up to 7); 100 caps a typo'd value at minutes, not hours, of backoff.
 */
export const DEFAULT_MAX_ATTEMPTS = 10
export const MAX_ATTEMPTS_LIMIT = 100

/**
 * GitLab input regexes (RE2, checked when the pipeline is created). A branch:
 * no space or ref-forbidden character; empty means the default.
 */
export const BRANCH_INPUT_REGEX = String.raw`^[^\s~^:?*\[\\]*$`
/** A repo URL or path, or a CI/CD variable reference that becomes one. */
const REPO_INPUT_REGEX = String.raw`^(https?://|ssh://|file://|/|[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:|\$\{?[A-Za-z_])\S*$`

/*
 * No `default:` fields anywhere below on purpose: action.yml inputs are shared
 * by all commands and the first definition wins, so a default there would be
 * fed to every command as if the user had typed it. Defaults are applied in
 * readDelivery and stated in the descriptions.
 */

/** Where and how the edit lands; every editing command offers these. */
export const DELIVERY_OPTIONS: OptionSpec[] = [
  {
    name: 'mode',
    type: 'string',
    description:
      'push: commit to --branch of --repo (set-image, argo-app: without --repo, edit the files under -C); pr: open or update one pull/merge request on --repo (default: push; promote: pr)',
    choices: ['push', 'pr'],
    gitlab: {
      section: 'pr',
      default: 'push',
      description: 'push commits to the branch; pr opens or updates one merge request instead.'
    }
  },
  {
    name: 'repo',
    type: 'string',
    description:
      'config repository: https:// URL (token from GITOPS_TOKEN), ssh://, git@host:path, file:// or a local path',
    // A job's own checkout is thrown away, so a component always names the config repo.
    gitlab: {
      section: 'target',
      required: true,
      regex: REPO_INPUT_REGEX,
      description: 'Config repo URL, e.g. $CI_SERVER_URL/acme/config.git. No credentials in it.'
    }
  },
  {
    name: 'branch',
    type: 'string',
    description:
      "push mode: the config repo branch to commit to; PR mode: the PR's base (same as --base) (default: the remote's default branch)",
    gitlab: {
      section: 'target',
      regex: BRANCH_INPUT_REGEX,
      description:
        'Branch to update (push mode) or to target (MR mode); empty means the default branch.'
    }
  },
  {
    name: 'message',
    type: 'string',
    description:
      'commit message template (placeholders per command: see its docs; \\n is a newline); PR mode: the first line is the subject of the PR commit',
    gitlab: {
      section: 'commit',
      description: 'Commit message; empty means one generated from the change.'
    }
  },
  {
    name: 'author',
    type: 'string',
    description: `commit author as "Name <email>" (default: ${DEFAULT_PR_AUTHOR})`,
    gitlab: {
      section: 'commit',
      description: "Commit author as 'Name <email>'; empty means the gitops-deploy bot identity."
    }
  },
  {
    name: 'max-attempts',
    type: 'string',
    description: `tries for every remote step when other jobs move the branch or the server fails transiently (5xx, dropped connection): pushes (each re-applies the edit on the new tip), clone/fetch, API commits, the PR branch push; 1 to ${MAX_ATTEMPTS_LIMIT} (default: ${DEFAULT_MAX_ATTEMPTS})`,
    gitlab: {
      section: 'commit',
      type: 'number',
      default: DEFAULT_MAX_ATTEMPTS,
      description:
        'Push attempts when another pipeline pushed first (rebase on the new tip and retry).'
    }
  },
  {
    name: 'allow-secret',
    type: 'list',
    description:
      'a written file (repo-relative path or glob) that may hold a Kubernetes Secret with clear data/stringData values or secretGenerator literals; repeatable. Other such files are refused; SOPS files, SealedSecrets, ExternalSecrets and argocd-vault-plugin placeholders always pass',
    gitlab: {
      section: 'run',
      description:
        'Files (paths or globs) allowed to hold plaintext Secret values; all others are refused.'
    }
  },
  {
    name: 'render-check',
    type: 'string',
    choices: [...RENDER_CHECK_MODES],
    description:
      'render every touched kustomization (kubectl kustomize, or kustomize build) with the edit applied before anything is written or pushed; a render that fails or does not run the new image refuses the edit. auto (default): when a renderer is installed, else skipped with a note; always: a missing renderer is an error; never: off',
    gitlab: {
      section: 'run',
      default: 'auto',
      description:
        'Render the touched kustomizations before the push (auto: when kubectl or kustomize is on the runner; always; never).'
    }
  },
  ...TRANSPORT_OPTIONS,
  {
    name: 'provider',
    type: 'string',
    description: 'github or gitlab (default: detected from the repo host)',
    choices: ['gitlab', 'github'],
    gitlab: {
      section: 'forge',
      description:
        'Forge of the config repo for MR mode; empty means detected from the repo URL and $CI_SERVER_URL.'
    }
  },
  {
    name: 'api-url',
    type: 'string',
    description:
      'REST API base, e.g. GHES https://host/api/v3, GitLab https://host/api/v4 (default: GITHUB_API_URL / CI_API_V4_URL, else derived from the repo host)',
    gitlab: {
      section: 'forge',
      description:
        'REST API base of the forge; empty means $CI_API_V4_URL for this instance, else https://<host>/api/v4.'
    }
  }
]

/** --dry-run of an editing command (the CLI wording is the command's; GitLab's is one). */
/**
 * The delivery flags as one command's help shows them: `--mode` says what this
 * command does without --repo and which mode it defaults to, nothing about others.
 */
export function deliveryOptions(profile: {
  defaultMode: 'push' | 'pr'
  local: boolean
}): OptionSpec[] {
  const push = profile.local
    ? 'push: commit to --branch of --repo (without --repo: write the files under -C)'
    : 'push: commit to --branch of --repo'
  const pr =
    profile.defaultMode === 'pr'
      ? 'pr: open or update one pull/merge request on --repo, the approval gate'
      : 'pr: open or update one pull/merge request on --repo'
  return DELIVERY_OPTIONS.map(o =>
    o.name === 'mode' ? {...o, description: `${push}; ${pr} (default: ${profile.defaultMode})`} : o
  )
}

export function dryRunOption(description: string): OptionSpec {
  return {
    name: 'dry-run',
    type: 'boolean',
    description,
    gitlab: {
      section: 'run',
      description:
        'Compute and print the change without committing, pushing or opening a merge request.'
    }
  }
}

/** -C: where the edit is written without --repo (set-image, argo-app, set-chart-version). */
export function rootOption(description: string): OptionSpec {
  return {name: 'root', short: 'C', type: 'string', cliOnly: true, default: '.', description}
}

/** --auto-merge's methods: declared once for the parser and the generated inputs. */
const AUTO_MERGE_CHOICES: readonly MergeMethod[] = ['merge', 'squash', 'rebase']

/** What only a pull request has. */
export const PR_OPTIONS: OptionSpec[] = [
  {
    name: 'pr-branch',
    type: 'string',
    description:
      'PR head branch template ({{base}}, {{path}}, {{image}} …); same value = same PR (default: per command, e.g. gitops-deploy/{{base}}/{{path}})',
    gitlab: {
      section: 'pr',
      regex: BRANCH_INPUT_REGEX,
      description: 'Source branch of the merge request; empty means one derived from the paths.'
    }
  },
  {
    name: 'base',
    type: 'string',
    description: "PR base branch (same as --branch) (default: the repository's default branch)",
    gitlab: {
      section: 'pr',
      regex: BRANCH_INPUT_REGEX,
      description:
        'Target branch of the merge request; empty means branch, then the default branch.'
    }
  },
  {
    name: 'title',
    type: 'string',
    description:
      'PR title template ({{summary}}, {{images}}, {{path}}, {{base}}, {{branch}} …) (default: per command)',
    gitlab: {
      section: 'pr',
      description: 'Merge request title; empty means one generated from the change.'
    }
  },
  {
    name: 'body',
    type: 'string',
    description: 'text (template) shown above the generated change table',
    gitlab: {
      section: 'pr',
      description:
        'Text put above the change table in the merge request description (single line, or $VARIABLE).'
    }
  },
  {
    name: 'labels',
    type: 'list',
    description: 'labels to add to the PR',
    gitlab: {section: 'pr', description: 'Labels of the merge request.'}
  },
  {
    name: 'reviewers',
    type: 'list',
    description: 'users to request a review from',
    gitlab: {section: 'pr', description: 'Reviewer usernames of the merge request.'}
  },
  {
    name: 'team-reviewers',
    type: 'list',
    description: 'GitHub teams (slugs) to request a review from',
    gitlab: {
      section: 'pr',
      description: 'GitHub teams (slugs) to request a review from (config repo on GitHub only).'
    }
  },
  {
    name: 'assignees',
    type: 'list',
    description: 'users to assign the PR to',
    gitlab: {section: 'pr', description: 'Assignee usernames of the merge request.'}
  },
  {
    name: 'draft',
    type: 'boolean',
    description: 'open the PR as a draft',
    gitlab: {section: 'pr', description: 'Open the merge request as a draft.'}
  },
  {
    name: 'auto-merge',
    type: 'string',
    description:
      "merge, squash or rebase: GitHub's native auto-merge; GitLab: merge when the pipeline succeeds",
    choices: AUTO_MERGE_CHOICES,
    gitlab: {
      section: 'pr',
      description: 'Merge the merge request when its pipeline succeeds, with this method.'
    }
  },
  {
    name: 'close-stale',
    type: 'string',
    description:
      'true (default) or false: when the base already has the change, close our open PR for the branch (with a comment) and delete its branch; a PR with commits we did not make is left alone',
    choices: ['true', 'false'],
    gitlab: {
      section: 'pr',
      description:
        'MR mode; empty means true. When a run finds nothing left to change, close our open merge request for the branch (with a comment) and delete its branch; one with commits gitops-deploy did not make is left open.'
    }
  }
]

/** The outputs every delivery reports; commands add their own. */
export const RENDER_CHECK_OUTPUT: OutputSpec = {
  name: 'render-check',
  description:
    "'passed' when every touched kustomization rendered with the edit; 'none' when no written file belongs to a kustomization; 'skipped' when no renderer is installed; 'off' with --render-check never; '' when nothing changed"
}

export const DELIVERY_OUTPUTS: OutputSpec[] = [
  RENDER_CHECK_OUTPUT,
  {
    name: 'commit',
    description: "the commit pushed (push mode) or the PR head commit; '' when none"
  },
  {name: 'pushed', description: "'true' when a commit was pushed"},
  {
    name: 'attempts',
    description:
      'push mode: push attempts made (1 unless the branch moved or a push failed transiently)'
  },
  {
    name: 'branch',
    description: 'the branch written: the config repo branch (push mode) or the PR head branch'
  },
  {name: 'pr-number', description: 'PR number (GitHub) or MR iid (GitLab); empty for no-op'},
  {name: 'pr-url', description: 'web URL of the PR/MR; empty for no-op'},
  {
    name: 'pr-operation',
    description:
      'created, updated, unchanged, no-op, or closed (our open PR was closed: the base already has the change)'
  },
  {name: 'transport', description: "the commit transport used, 'git' or 'api'"},
  {
    name: 'verified',
    description: "'true'/'false' when the forge reported the commit's signature, else ''"
  }
]

/** The PR decorations, read the same way for every command. */
export interface PrRequestSettings {
  labels: string[]
  reviewers: string[]
  teamReviewers: string[]
  assignees: string[]
  draft: boolean
  autoMerge?: MergeMethod
  /** Close our own PR (comment + close + delete branch) when a run finds nothing left to change. */
  closeStale: boolean
}

interface RemoteDelivery {
  /** --repo as given: URL, scp-like SSH address or local path. */
  repo: string
  /** --allow-secret: files the plaintext-Secret guard lets through. */
  allowSecret?: string[]
  /** --render-check (the CLI and the Action default to auto); absent: off, for library callers. */
  renderCheck?: RenderCheckMode
  /** The renderer the check uses (tests and benchmarks bring their own). */
  renderer?: NamedRenderer
  author: Identity
  /** --author given explicitly (GitHub API commits cannot honour it). */
  authorGiven: boolean
  maxAttempts: number
  transport: TransportSettings
  provider?: string
  apiUrl?: string
  /** --message as given; the edit renders it. */
  message?: string
  env: Env
  /** Resolves a relative --repo path. */
  cwd: string
  /** Tests shorten the waits; the CLI always uses the default policy. */
  backoff?: Backoff
  /** Tests shrink GitHub's API pacing; the CLI uses real seconds. */
  apiMsPerSecond?: number
  /** Tests and benchmarks read the API client's request count. */
  onApi?: (api: RepoApi) => void
}

export interface LocalDelivery {
  mode: 'local'
  /** -C: the checkout the edit is written in. */
  root: string
  dryRun: boolean
  guards?: Guard[]
  /** --allow-secret: files the plaintext-Secret guard lets through. */
  allowSecret?: string[]
  /** --render-check (the CLI and the Action default to auto); absent: off, for library callers. */
  renderCheck?: RenderCheckMode
  /** The renderer the check uses (tests and benchmarks bring their own). */
  renderer?: NamedRenderer
}

export interface PushDelivery extends RemoteDelivery {
  mode: 'push'
  /** Absent: the remote's default branch. */
  branch?: string
  dryRun: boolean
  guards?: Guard[]
}

export interface PrDelivery extends RemoteDelivery, PrRequestSettings {
  mode: 'pr'
  /** The PR's base; absent: the repository's default branch. */
  base?: string
  branchTemplate?: string
  title?: string
  body?: string
  guards?: Guard[]
}

export type DeliverySettings = LocalDelivery | PushDelivery | PrDelivery

/** How a command offers delivery: the differences are defaults, never meanings. */
export interface DeliveryProfile {
  /** The mode without --mode. */
  defaultMode: 'push' | 'pr'
  /** Without --repo, push mode edits the files under -C (set-image, argo-app); else --repo is required. */
  local: boolean
  /** Validates --message against the command's placeholders (throws UsageError). */
  checkMessage(template: string): void
  /** promote predates the rule: --base names the push branch too. */
  baseNamesPushBranch?: boolean
}

export function readMode(input: InputReader, fallback: 'push' | 'pr'): 'push' | 'pr' {
  const mode = input.string('mode')?.trim() || fallback
  if (mode !== 'push' && mode !== 'pr') {
    throw new UsageError(
      `--mode '${mode}' is not known; use pr or push (push: commit directly; pr: open a pull request)`
    )
  }
  return mode
}

/** Action inputs arrive one per line; a comma-separated line is accepted too. */
export function splitList(values: string[]): string[] {
  return values
    .flatMap(v => v.split(/[,\n]/))
    .map(v => v.trim())
    .filter(Boolean)
}

/** Parses `Name <email>`; blank means the default identity. */
export function parseAuthor(value: string | undefined): Identity {
  if (value === undefined || value.trim() === '') return DEFAULT_AUTHOR
  const m = /^\s*([^<>]*?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(value)
  if (!m || !m[1]) {
    throw new UsageError(
      `--author '${value}' is not "Name <email>"; pass e.g. --author "Deploy Bot <deploy@example.com>"`
    )
  }
  return {name: m[1], email: m[2]}
}

export function parseMaxAttempts(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_MAX_ATTEMPTS
  const n = Number(value.trim())
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > MAX_ATTEMPTS_LIMIT) {
    throw new UsageError(
      `--max-attempts must be a whole number from 1 to ${MAX_ATTEMPTS_LIMIT}, got ${JSON.stringify(value)}`
    )
  }
  return n
}

function parseBranch(flag: string, value: string | undefined): string | undefined {
  const branch = value?.trim() || undefined
  if (branch !== undefined && !/^(?!-)(?!.*\.\.)[^\s~^:?*[\\]+$/.test(branch)) {
    throw new UsageError(
      `--${flag} ${JSON.stringify(branch)} is not a valid branch name; pass e.g. main`
    )
  }
  return branch
}

/** The PR decorations. */
export function readPrRequest(input: InputReader): PrRequestSettings {
  const autoMerge = input.string('auto-merge')?.trim() || undefined
  if (autoMerge !== undefined && !(AUTO_MERGE_CHOICES as readonly string[]).includes(autoMerge)) {
    throw new UsageError(`--auto-merge '${autoMerge}' is not known; use merge, squash or rebase`)
  }
  const draft = input.boolean('draft') === true
  if (draft && autoMerge) {
    throw new UsageError(
      '--draft and --auto-merge contradict each other (a draft cannot merge); drop one'
    )
  }
  const closeStaleRaw = (input.string('close-stale') ?? '').trim().toLowerCase() || 'true'
  if (closeStaleRaw !== 'true' && closeStaleRaw !== 'false') {
    throw new UsageError(
      `--close-stale '${input.string('close-stale')}' is not true or false; pass --close-stale false to keep a PR whose change the base already has`
    )
  }
  return {
    closeStale: closeStaleRaw === 'true',
    labels: splitList(input.list('labels')),
    reviewers: splitList(input.list('reviewers')),
    teamReviewers: splitList(input.list('team-reviewers')),
    assignees: splitList(input.list('assignees')),
    draft,
    autoMerge: autoMerge as MergeMethod | undefined
  }
}

/** The flags of `options` the user gave (a list with entries, a true boolean, a non-blank string). */
export function given(input: InputReader, options: OptionSpec[]): string[] {
  return options
    .filter(o =>
      o.type === 'list'
        ? input.list(o.name).length > 0
        : o.type === 'boolean'
          ? input.boolean(o.name) === true
          : Boolean(input.string(o.name)?.trim())
    )
    .map(o => o.name)
}

const PUSH_AND_PR = DELIVERY_OPTIONS.filter(
  o =>
    o.name !== 'mode' && o.name !== 'repo' && o.name !== 'allow-secret' && o.name !== 'render-check'
)

function readRenderCheck(input: InputReader): RenderCheckMode {
  const raw = input.string('render-check')?.trim() || 'auto'
  if (!(RENDER_CHECK_MODES as readonly string[]).includes(raw)) {
    throw new UsageError(
      `--render-check '${raw}' is not known; use auto (render when kubectl or kustomize is installed), always or never`
    )
  }
  return raw as RenderCheckMode
}

/**
 * Reads every delivery flag once and refuses the ones the chosen mode has no
 * use for (exit 2), so a flag is either honoured or named in an error.
 *
 * | flag | local (-C) | push | pr |
 * | --branch | refused | branch written | the base (= --base) |
 * | --message | refused | commit message | subject of the PR commit |
 * | --max-attempts, --author, --transport, --require-verified, --provider, --api-url | refused | yes | yes |
 * | --pr-branch --base --title --body --labels --reviewers --team-reviewers --assignees --draft --auto-merge --close-stale | refused | refused | yes |
 * | --dry-run | yes | yes | refused (the PR is the preview) |
 */
export function readDelivery(
  input: InputReader,
  env: Env,
  profile: DeliveryProfile,
  cwd: string
): DeliverySettings {
  const mode = readMode(input, profile.defaultMode)
  const repo = input.string('repo')?.trim() || undefined
  const dryRun = input.boolean('dry-run') === true
  const allowSecret = input.list('allow-secret').map(p => checkRelative(p, '--allow-secret'))
  const renderCheck = readRenderCheck(input)
  if (!repo) {
    if (mode === 'pr') {
      throw new UsageError(
        '--mode pr needs --repo <config repo URL>; e.g. --repo https://github.com/acme/config.git'
      )
    }
    if (!profile.local)
      throw new UsageError('--repo is required: the config repository URL or path')
    const stray = given(input, [...PUSH_AND_PR, ...PR_OPTIONS])
    if (stray.length > 0) {
      throw new UsageError(
        `--${stray[0]} only applies with --repo; add --repo <url> or drop --${stray[0]}`
      )
    }
    return {mode: 'local', root: input.string('root') ?? '.', dryRun, allowSecret, renderCheck}
  }
  if (input.string('root') !== undefined) {
    throw new UsageError(
      '-C/--root and --repo exclude each other: --repo edits a fresh clone of the remote; drop one of them'
    )
  }
  const message = input.string('message')
  if (message !== undefined) profile.checkMessage(message)
  const common: RemoteDelivery = {
    repo,
    author: parseAuthor(input.string('author')),
    authorGiven: Boolean(input.string('author')?.trim()),
    maxAttempts: parseMaxAttempts(input.string('max-attempts')),
    transport: readTransport(input),
    provider: input.string('provider')?.trim() || undefined,
    apiUrl: input.string('api-url')?.trim() || undefined,
    ...(message !== undefined ? {message} : {}),
    allowSecret,
    renderCheck,
    env,
    cwd
  }
  const branch = parseBranch('branch', input.string('branch'))
  const base = parseBranch('base', input.string('base'))
  if (mode === 'push') {
    const prOnly = given(
      input,
      PR_OPTIONS.filter(o => !(profile.baseNamesPushBranch && o.name === 'base'))
    )
    if (prOnly.length > 0) {
      throw new UsageError(`--${prOnly[0]} only applies to --mode pr; drop it or use --mode pr`)
    }
    if (profile.baseNamesPushBranch && branch && base && branch !== base) {
      throw new UsageError(
        `--branch '${branch}' and --base '${base}' differ; they name the same branch, give one`
      )
    }
    return {...common, mode: 'push', branch: branch ?? base, dryRun}
  }
  if (dryRun) {
    throw new UsageError(
      '--dry-run applies to --mode push; in PR mode the PR itself is the preview (drop --dry-run, or preview with --mode push --dry-run)'
    )
  }
  if (branch && base && branch !== base) {
    throw new UsageError(
      `--branch '${branch}' and --base '${base}' differ; in PR mode they name the same branch, give one`
    )
  }
  if (!env[TOKEN_VARIABLE]?.trim()) {
    throw new UsageError(
      `PR mode needs an API token in ${TOKEN_VARIABLE} (the action's \`token\` input): GitHub \`contents: write\` + \`pull-requests: write\`, GitLab \`api\` scope; or use --mode push`
    )
  }
  return {
    ...common,
    ...readPrRequest(input),
    mode: 'pr',
    base: base ?? branch,
    branchTemplate: input.string('pr-branch')?.trim() || undefined,
    title: input.string('title'),
    body: input.string('body')
  }
}
