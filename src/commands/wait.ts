import {UsageError} from '../core/errors.js'
import {checkRelative} from '../edits/workspace.js'
import {withoutUserinfo} from '../git/remote-url.js'
import {defineCommand} from './types.js'
import {
  readWaitSettings,
  runWait,
  WAIT_OUTPUTS,
  WAIT_TUNING_OPTIONS,
  waitExitCode,
  waitJson,
  waitOutputs,
  waitSummary,
  waitText,
  type WaitReport,
  type WaitSettings
} from './wait-options.js'

export interface WaitCommandSettings {
  wait: WaitSettings
  repo: string
  branch?: string
  commit: string
  paths: string[]
  env: Readonly<Record<string, string | undefined>>
}

const SHA = /^[0-9a-f]{40}$/i

/**
 * The files a previous set-image/promote job changed, from its GITOPS_FILES
 * output (a JSON array), so `wait` after it needs no --path.
 */
function filesFromEnv(raw: string | undefined): string[] {
  if (!raw?.trim()) return []
  try {
    const v = JSON.parse(raw) as unknown
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
  } catch {
    throw new UsageError(
      `GITOPS_FILES is not a JSON array of paths ('${raw.slice(0, 60)}'); pass --path instead`
    )
  }
}

export const waitCommand = defineCommand<WaitCommandSettings, WaitReport>({
  name: 'wait',
  description:
    'Wait until Argo CD runs a config repo commit (or a later one), Synced and Healthy, in every app that deploys it',
  options: [
    {
      name: 'repo',
      type: 'string',
      description: "the config repo URL the commit was pushed to (as in the apps' source)",
      gitlab: {description: 'The config repo URL the commit was pushed to.'}
    },
    {
      name: 'branch',
      type: 'string',
      description:
        'the branch the commit was pushed to (default: GITOPS_BRANCH, else the default branch)',
      gitlab: {
        description: 'The branch the commit went to; empty: GITOPS_BRANCH of the job before.'
      }
    },
    {
      name: 'commit',
      type: 'string',
      description:
        'the full commit SHA that must run (default: GITOPS_COMMIT, the output of set-image/promote)',
      gitlab: {description: 'The commit that must run; empty: GITOPS_COMMIT of the job before.'}
    },
    {
      name: 'path',
      type: 'list',
      description:
        'a repo-relative file or directory the commit changed (repeatable; default: GITOPS_FILES of set-image/promote)',
      gitlab: {
        description:
          'Files or directories the commit changed; empty: GITOPS_FILES of the job before.'
      }
    },
    ...WAIT_TUNING_OPTIONS
  ],
  outputSpecs: WAIT_OUTPUTS,
  gitlab: {
    description:
      'Wait until Argo CD runs the commit a set-image or promote job pushed (or a later one), Synced and Healthy, in every app that deploys it; fails the job naming the unhealthy resources. Outputs GITOPS_DEPLOYED and GITOPS_APPS as a dotenv report. Token: masked CI/CD variable ARGOCD_AUTH_TOKEN.',
    stage: 'deploy',
    // GitLab's environment page tracks the deploy: the job is the deployment, its result the status.
    jobInputs: {
      environment: {
        description:
          'GitLab environment this job deploys to (its page shows the deployment and its result), e.g. staging.',
        required: true,
        regex: '^[A-Za-z0-9 _/${}.-]+$'
      },
      'environment-url': {
        description:
          'Link of the environment, e.g. the Argo CD app https://cd.example.com/applications/argocd/web-staging; empty: $GITOPS_ENVIRONMENT_URL.',
        default: '$GITOPS_ENVIRONMENT_URL'
      }
    },
    jobKeys: [
      'environment:',
      '  name: $[[ inputs.environment ]]',
      '  url: $[[ inputs.environment-url ]]'
    ].join('\n')
  },
  settings(input, env, platform) {
    const repo = input.string('repo')?.trim()
    if (!repo) {
      throw new UsageError(
        '--repo is required: the config repo URL the apps read, e.g. --repo https://github.com/acme/config.git'
      )
    }
    if (withoutUserinfo(repo) !== repo) {
      throw new UsageError(
        '--repo must not carry credentials; pass the plain URL (the ancestry check uses GITOPS_TOKEN)'
      )
    }
    const commit = (input.string('commit')?.trim() || env.GITOPS_COMMIT?.trim() || '').toLowerCase()
    if (!commit) {
      throw new UsageError(
        '--commit is required: the full SHA that was pushed (set-image and promote output it as commit / GITOPS_COMMIT)'
      )
    }
    if (!SHA.test(commit)) {
      throw new UsageError(
        `--commit '${commit}' is not a full 40-character commit SHA; pass the whole SHA`
      )
    }
    const given = input.list('path')
    const paths = (given.length ? given : filesFromEnv(env.GITOPS_FILES)).map(p =>
      checkRelative(p.trim().replace(/\/+$/, ''), '--path')
    )
    const wait = readWaitSettings(input, env, platform)
    if (!paths.length && !wait.settings.apps.length) {
      throw new UsageError(
        '--path is required to find the apps: the files or directories the commit changed (or name the apps with --argocd-app)'
      )
    }
    const branch = input.string('branch')?.trim() || env.GITOPS_BRANCH?.trim() || undefined
    return {wait, repo, ...(branch ? {branch} : {}), commit, paths, env}
  },
  run: (s, platform) =>
    runWait(
      s.wait,
      {repo: s.repo, ...(s.branch ? {branch: s.branch} : {}), commit: s.commit, paths: s.paths},
      s.env,
      platform
    ),
  outputs: r => waitOutputs(r),
  json: r => waitJson(r),
  summary: r => `### wait\n\n${waitSummary(r)}`,
  text: r => waitText(r).join('\n') + '\n',
  exitCode: r => waitExitCode(r)
})
