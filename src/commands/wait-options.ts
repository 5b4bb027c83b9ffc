import {CommitAncestry} from '../argocd/ancestry.js'
import {
  allHealthy,
  waitForCommit,
  type AppReport,
  type CommitWaitResult,
  type CommitWaitSettings
} from '../argocd/commit-wait.js'
import type {ChangeTarget} from '../argocd/discover.js'
import {formatResource} from '../argocd/health.js'
import {UsageError} from '../core/errors.js'
import {tableCell as cell, tableHead, tableRow} from '../core/markdown.js'
import {remoteHistorySource} from '../git/file-history.js'
import type {Platform} from '../platform/port.js'
import {posix} from 'node:path'
import {errorMessage} from '../core/errors.js'
import {GitHubDeployments} from '../forge/github/deployments.js'
import type {Delivery} from '../delivery/deliver.js'
import {given, type DeliverySettings} from '../delivery/options.js'
import type {PlanOutcome} from '../edits/edit.js'
import {parseAcceptHealth, parseDuration, readArgoConnection} from './argocd-connection.js'
import type {Env, InputReader, OptionSpec, Outputs, OutputSpec} from './types.js'

/**
 * Waiting for the pushed commit to run in Argo CD: the flags shared by
 * `wait` and by `--wait` on set-image and promote, read once, and the report
 * every adapter shows (text, --json, job summary, outputs).
 */

/** The flags that tune the wait; `--wait` itself is only on the commands that push. */
export const WAIT_TUNING_OPTIONS: OptionSpec[] = [
  {
    name: 'argocd-server',
    type: 'string',
    description:
      'Argo CD server URL (https://cd.example.com); the token comes from ARGOCD_AUTH_TOKEN',
    gitlab: {
      description:
        'Argo CD server URL, e.g. https://cd.example.com; the token comes from the masked CI/CD variable ARGOCD_AUTH_TOKEN.'
    }
  },
  {
    name: 'argocd-app',
    type: 'list',
    description:
      'wait for this Argo CD application (repeatable) instead of finding the apps that deploy the change',
    gitlab: {description: 'Argo CD applications to wait for; empty: found from the change.'}
  },
  {
    name: 'argocd-selector',
    type: 'string',
    description: 'only consider applications with these labels (k=v,k2=v2) when finding them',
    gitlab: {description: 'Label selector that narrows which applications are considered.'}
  },
  {
    name: 'timeout',
    type: 'string',
    // No `default:` field: promote's option table declares none (action inputs are shared).
    description: 'how long to wait for the apps, in seconds (or 10m); default 300',
    // A string input with an empty default: a number input's default would reach set-image as if typed.
    gitlab: {
      default: '',
      description: 'Seconds to wait for the apps to run the commit; empty: 300.'
    }
  },
  {
    name: 'accept-health',
    type: 'list',
    description:
      'health that counts as done besides Healthy: Suspended (paused rollout) or Degraded',
    gitlab: {description: 'Health that counts as done besides Healthy, e.g. [Suspended].'}
  },
  {
    name: 'degraded-grace',
    type: 'string',
    description:
      'how long a Degraded health may last before the wait fails (seconds, or 1m); default 10',
    gitlab: {
      default: '',
      description: 'Seconds a Degraded health may last before the job fails; empty: 10.'
    }
  },
  {
    name: 'github-deployment',
    type: 'boolean',
    description:
      'record a GitHub Deployment of the application commit (GITHUB_SHA in GITHUB_REPOSITORY): in_progress, then success or failure, linked to the Argo CD app; token in GITHUB_TOKEN with deployments: write',
    gitlab: false
  },
  {
    name: 'environment',
    type: 'string',
    description:
      "with --github-deployment: the GitHub environment (default: the changed overlay's directory name, e.g. staging)",
    gitlab: false
  },
  {
    name: 'insecure',
    type: 'boolean',
    description: 'skip TLS certificate verification of the Argo CD server (test servers only)',
    gitlab: {description: 'Skip TLS certificate verification (test servers only).'}
  },
  {
    name: 'ca-file',
    type: 'string',
    description: 'PEM file with the CA that signed the Argo CD server certificate',
    gitlab: {
      description: 'PEM file with the CA of the Argo CD server certificate, e.g. $ARGOCD_CA.'
    }
  }
]

/** `--wait` and its tuning flags, for set-image and promote. */
export const WAIT_OPTIONS: OptionSpec[] = [
  {
    name: 'wait',
    type: 'boolean',
    description:
      'after the push, wait until Argo CD runs the commit (or a later one) Synced and Healthy; needs --argocd-server',
    gitlab: {
      description:
        'After the push, wait until Argo CD runs the commit Synced and Healthy; the job fails otherwise.'
    }
  },
  ...WAIT_TUNING_OPTIONS
]

export const WAIT_OUTPUTS: OutputSpec[] = [
  {
    name: 'deployed',
    description:
      "'true' when every app runs the commit Synced and Healthy, 'false' when one does not, '' without a wait"
  },
  {
    name: 'apps',
    description: 'JSON array of {name, result, revision, sync, health, url} of the apps waited for'
  },
  {
    name: 'deployment-id',
    description: "with --github-deployment: the id of the GitHub Deployment recorded, else ''"
  }
]

export interface GithubDeploymentSettings {
  apiUrl: string
  repoPath: string
  sha: string
  token: string
  /** --environment; undefined: the changed overlay's directory name. */
  environment?: string
}

export interface WaitSettings {
  settings: Omit<CommitWaitSettings, 'target'>
  githubDeployment?: GithubDeploymentSettings
}

/** What --github-deployment recorded. */
export type DeploymentReport =
  | {kind: 'recorded'; id: number; environment: string; state: 'success' | 'failure'}
  | {kind: 'failed'; environment: string; error: string}

export interface WaitReport extends CommitWaitResult {
  deployment?: DeploymentReport
}

function readGithubDeployment(
  input: InputReader,
  env: Env,
  platform: Platform
): GithubDeploymentSettings | undefined {
  const environment = input.string('environment')?.trim() || undefined
  if (input.boolean('github-deployment') !== true) {
    if (environment) {
      throw new UsageError(
        '--environment only applies with --github-deployment; add --github-deployment or drop --environment'
      )
    }
    return undefined
  }
  const token = env.GITHUB_TOKEN?.trim()
  if (!token) {
    throw new UsageError(
      '--github-deployment needs a token for the application repository in GITHUB_TOKEN (action input github-token, default github.token) with `deployments: write`'
    )
  }
  platform.setSecret(token)
  const repoPath = env.GITHUB_REPOSITORY?.trim()
  const sha = env.GITHUB_SHA?.trim()
  if (!repoPath || !/^[^/\s]+\/[^/\s]+$/.test(repoPath) || !sha || !SHA.test(sha)) {
    throw new UsageError(
      '--github-deployment records the deployment of the application commit: it needs GITHUB_REPOSITORY (owner/repo) and GITHUB_SHA, which GitHub Actions sets; set them when running elsewhere'
    )
  }
  return {
    apiUrl: env.GITHUB_API_URL?.trim() || 'https://api.github.com',
    repoPath,
    sha,
    token,
    ...(environment ? {environment} : {})
  }
}

const SHA = /^[0-9a-f]{40}$/i

/** The environment a change deploys to, by convention the overlay directory's name. */
export function environmentOf(paths: string[]): string | undefined {
  const first = paths[0]
  if (!first) return undefined
  const dir = /\.(ya?ml|json)$/i.test(first) ? posix.dirname(first) : first
  const name = posix.basename(dir)
  return name && name !== '.' ? name : undefined
}

/**
 * The wait of set-image/promote: undefined without --wait (a tuning flag
 * without it is refused), refused outside push mode and with --dry-run.
 */
export function readWaitFlag(
  input: InputReader,
  env: Env,
  platform: Platform,
  delivery: {mode: string; dryRun?: boolean}
): WaitSettings | undefined {
  if (input.boolean('wait') !== true) {
    const [stray] = given(input, WAIT_TUNING_OPTIONS)
    if (stray)
      throw new UsageError(`--${stray} only applies with --wait; add --wait or drop --${stray}`)
    return undefined
  }
  if (delivery.mode !== 'push') {
    throw new UsageError(
      delivery.mode === 'local'
        ? '--wait needs a pushed commit: add --repo <config repo URL> (with -C the files are only written here)'
        : '--wait applies to --mode push: a pull request is deployed when it is merged; run `wait` after the merge'
    )
  }
  if (delivery.dryRun)
    throw new UsageError(
      '--wait and --dry-run exclude each other: a dry run pushes nothing to wait for'
    )
  return readWaitSettings(input, env, platform)
}

/** The tuning flags, for `wait` and `--wait`. */
export function readWaitSettings(input: InputReader, env: Env, platform: Platform): WaitSettings {
  const connection = readArgoConnection(input, env, platform, 'argocd-server')
  const selector = input.string('argocd-selector')?.trim()
  if (selector && !/^[A-Za-z0-9_./-]+\s*(!=|==|=|\s+in\s+|\s+notin\s+)?/.test(selector)) {
    throw new UsageError(
      `--argocd-selector '${selector}' is not a label selector; write e.g. team=shop`
    )
  }
  const apps = input
    .list('argocd-app')
    .flatMap(a => a.split(/[,\s]+/))
    .filter(Boolean)
  for (const a of apps) {
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(a)) {
      throw new UsageError(
        `--argocd-app '${a}' is not an application name (lower-case letters, digits, '-', '.')`
      )
    }
  }
  const githubDeployment = readGithubDeployment(input, env, platform)
  return {
    ...(githubDeployment ? {githubDeployment} : {}),
    settings: {
      connection,
      apps,
      ...(selector ? {selector} : {}),
      timeoutMs: parseDuration(input.string('timeout'), 'timeout', '300'),
      acceptHealth: parseAcceptHealth(input.list('accept-health')),
      degradedGraceMs: parseDuration(input.string('degraded-grace'), 'degraded-grace', '10', {
        allowZero: true
      })
    }
  }
}

/** Runs the wait for a commit that landed: the ancestry check fetches the branch with the push's credentials. */
export async function runWait(
  w: WaitSettings,
  target: ChangeTarget,
  env: Env,
  platform: Platform,
  o: {
    environmentName?: string
    /** Commits known to predate ours (the tip it was made on): judged without a fetch. */
    older?: string[]
  } = {}
): Promise<WaitReport> {
  const ancestry = new CommitAncestry(target.commit, {
    source: remoteHistorySource(target.repo, target.branch, env, platform.redactor),
    redactor: platform.redactor,
    ...(o.older ? {older: o.older} : {}),
    debug: m => platform.debug(m)
  })
  const deployment = w.githubDeployment
    ? await startDeployment(
        w.githubDeployment,
        o.environmentName ?? environmentOf(target.paths),
        target,
        platform
      )
    : undefined
  try {
    const defaultBranch = target.defaultBranch ?? (await ancestry.defaultBranch())
    const full = {...target, ...(defaultBranch ? {defaultBranch} : {})}
    const result: WaitReport = await waitForCommit({...w.settings, target: full}, ancestry, {
      info: m => platform.info(m),
      debug: m => platform.debug(m)
    })
    if (deployment) result.deployment = await finishDeployment(deployment, result, platform)
    return result
  } catch (e) {
    // The deployment must not stay in_progress forever when the wait itself broke.
    if (deployment?.kind === 'started') {
      await deployment.api
        .status(deployment.id, {
          state: 'error',
          environment: deployment.environment,
          description: 'gitops-deploy could not wait for Argo CD'
        })
        .catch(() => undefined)
    }
    throw e
  } finally {
    await ancestry.close()
  }
}

type StartedDeployment =
  | {kind: 'started'; api: GitHubDeployments; id: number; environment: string}
  | {kind: 'failed'; environment: string; error: string}

async function startDeployment(
  g: GithubDeploymentSettings,
  derived: string | undefined,
  target: ChangeTarget,
  platform: Platform
): Promise<StartedDeployment> {
  const environment = g.environment ?? derived ?? 'production'
  const api = new GitHubDeployments({
    apiUrl: g.apiUrl,
    repoPath: g.repoPath,
    token: g.token,
    log: {warning: m => platform.warning(m), debug: m => platform.debug(m)}
  })
  try {
    const id = await api.create({
      sha: g.sha,
      environment,
      description: `config repo commit ${target.commit.slice(0, 12)}`
    })
    await api.status(id, {state: 'in_progress', environment, description: 'waiting for Argo CD'})
    platform.info(`GitHub deployment ${id} to ${environment}: in_progress`)
    return {kind: 'started', api, id, environment}
  } catch (e) {
    // The deploy goes on in Argo CD either way: the wait still runs and decides the exit code.
    const error = errorMessage(e)
    platform.warning(`the GitHub deployment was not recorded: ${error}`)
    return {kind: 'failed', environment, error}
  }
}

async function finishDeployment(
  d: StartedDeployment,
  r: CommitWaitResult,
  platform: Platform
): Promise<DeploymentReport> {
  if (d.kind === 'failed') return d
  const ok = allHealthy(r)
  const link = (r.apps.find(a => a.result !== 'healthy') ?? r.apps[0])?.url
  const state = ok ? 'success' : 'failure'
  try {
    await d.api.status(d.id, {
      state,
      environment: d.environment,
      ...(link ? {url: link} : {}),
      description: ok
        ? `Argo CD runs ${r.commit.slice(0, 12)}, Synced and Healthy`
        : `not healthy: ${r.apps
            .filter(a => a.result !== 'healthy')
            .map(a => a.name)
            .join(', ')}`
    })
    return {kind: 'recorded', id: d.id, environment: d.environment, state}
  } catch (e) {
    const error = errorMessage(e)
    platform.warning(`the GitHub deployment status was not recorded: ${error}`)
    return {kind: 'failed', environment: d.environment, error}
  }
}

/**
 * `--wait` after a delivery: waits for the commit that landed. Nothing is
 * waited for when the push was refused (the command fails on that) or when
 * nothing changed and so nothing was pushed: the report says so.
 */
export async function runWaitAfter(
  w: WaitSettings,
  settings: DeliverySettings,
  d: Pick<Delivery<PlanOutcome>, 'commit' | 'pushed' | 'branch' | 'files' | 'remote' | 'tip'>,
  platform: Platform,
  environmentName?: string
): Promise<WaitReport | undefined> {
  if (settings.mode !== 'push' || d.remote?.rejected) return undefined
  if (!d.pushed || !d.commit) {
    platform.info('nothing was pushed, so there is no new commit for Argo CD to run: not waiting')
    return undefined
  }
  return runWait(
    w,
    {
      repo: settings.repo,
      ...(d.branch ? {branch: d.branch} : {}),
      commit: d.commit,
      paths: d.files
    },
    settings.env,
    platform,
    {
      ...(environmentName ? {environmentName} : {}),
      // The tip our commit was made on runs before the push: no fetch is needed to judge it.
      ...(d.tip && d.tip !== d.commit ? {older: [d.tip]} : {})
    }
  )
}

// ------------------------------------------------------------------ report

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`
}

function appLine(a: AppReport): string {
  const at = a.revision ? ` at ${a.revision.slice(0, 12)}` : ''
  const state = `${a.sync}/${a.health}${at}, ${seconds(a.durationMs)}`
  if (a.result === 'healthy') return `${a.name}: deployed (${state})`
  return `${a.name}: ${a.result === 'failed' ? 'FAILED' : 'TIMED OUT'} (${state}): ${a.reason ?? ''}`
}

function deploymentLine(d: DeploymentReport): string {
  return d.kind === 'recorded'
    ? `GitHub deployment ${d.id} to ${d.environment}: ${d.state}`
    : `GitHub deployment to ${d.environment} not recorded: ${d.error}`
}

export function waitText(r: WaitReport): string[] {
  const lines = [
    `argo cd: ${allHealthy(r) ? 'every app runs' : 'not every app runs'} ${r.commit.slice(0, 12)}`
  ]
  if (r.deployment) lines.push(`  ${deploymentLine(r.deployment)}`)
  for (const a of r.apps) {
    lines.push(`  ${appLine(a)}`)
    for (const res of a.resources.slice(0, 20)) lines.push(`    ${formatResource(res)}`)
    if (a.resources.length > 20) lines.push(`    ... ${a.resources.length - 20} more`)
    lines.push(`    ${a.url}`)
  }
  return lines
}

export function waitSummary(r: WaitReport): string {
  const rows = r.apps.map(a =>
    tableRow([
      `[${cell(a.name)}](${a.url})`,
      a.result === 'healthy' ? 'deployed' : `**${a.result}**`,
      a.revision ? `\`${a.revision.slice(0, 12)}\`` : '-',
      cell(a.sync),
      cell(a.health),
      seconds(a.durationMs)
    ])
  )
  const lines = [
    `#### Argo CD: ${allHealthy(r) ? 'deployed' : 'not deployed'} (commit \`${r.commit.slice(0, 12)}\`)`,
    '',
    ...tableHead(['application', 'result', 'revision', 'sync', 'health', 'took']),
    ...rows
  ]
  if (r.deployment) lines.push('', cell(deploymentLine(r.deployment)))
  for (const a of r.apps.filter(x => x.result !== 'healthy')) {
    lines.push('', `**${cell(a.name)}**: ${cell(a.reason ?? '')}`)
    for (const res of a.resources.slice(0, 20)) lines.push(`- ${cell(formatResource(res))}`)
  }
  return lines.join('\n') + '\n'
}

export function waitJson(r: WaitReport) {
  return {
    deployed: allHealthy(r),
    commit: r.commit,
    apps: r.apps,
    ...(r.deployment ? {githubDeployment: r.deployment} : {})
  }
}

export function waitOutputs(r: WaitReport | undefined): Outputs {
  if (!r) return {deployed: '', apps: '[]', 'deployment-id': ''}
  return {
    'deployment-id': r.deployment?.kind === 'recorded' ? String(r.deployment.id) : '',
    deployed: String(allHealthy(r)),
    apps: JSON.stringify(
      r.apps.map(a => ({
        name: a.name,
        result: a.result,
        revision: a.revision ?? '',
        sync: a.sync,
        health: a.health,
        url: a.url
      }))
    )
  }
}

/** 0 when every app runs the commit Synced and Healthy, else 1. */
export function waitExitCode(r: CommitWaitResult | undefined): number {
  return !r || allHealthy(r) ? 0 : 1
}
