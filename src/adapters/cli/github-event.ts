import {readFileSync} from 'node:fs'
import type {GithubEvent, GithubRun} from '../../changes/ci-context.js'
import type {Env} from '../../commands/types.js'
import type {Platform} from '../../platform/port.js'

/**
 * The CLI run as a step of a GitHub workflow (`npx @gitops-deploy/cli changes`): the event from
 * the runner's variables in the CLI's own environment. The Action reads the same through
 * `@actions/github`'s context; the CLI carries no `@actions/*` and takes its env as given.
 */
export function githubRunFromEnv(env: Env, platform: Platform): GithubRun | undefined {
  if (env.GITHUB_ACTIONS !== 'true') return undefined
  let payload: GithubEvent | undefined
  if (env.GITHUB_EVENT_PATH) {
    try {
      payload = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8')) as GithubEvent
    } catch (e) {
      // A missing payload makes `changes` fail open (build); say why.
      platform.warning(`could not read the event payload ${env.GITHUB_EVENT_PATH}: ${String(e)}`)
    }
  }
  const [owner, repo] = env.GITHUB_REPOSITORY?.split('/') ?? []
  return {
    name: env.GITHUB_EVENT_NAME,
    payload,
    sha: env.GITHUB_SHA,
    ref: env.GITHUB_REF,
    ...(owner && repo ? {repo: {owner, repo}} : {})
  }
}
