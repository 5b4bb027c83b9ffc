import {OperationError} from '../../core/errors.js'
import type {ForgeLog} from '../forge.js'
import {createGitHubClient, errorText, statusOf, type Client} from './pulls.js'

/**
 * A GitHub Deployment of the application commit, so the commit and its pull
 * request show "deployed to staging" (or the failure) where developers look.
 * The deployment is created for a SHA with `auto_merge: false` (nothing to
 * merge into a commit) and `required_contexts: []`: by default GitHub refuses
 * (409) while any status check of the commit is pending, and the workflow
 * creating the deployment is itself one of them.
 */
export interface DeploymentTarget {
  apiUrl: string
  /** owner/repo of the application repository. */
  repoPath: string
  token: string
  log: ForgeLog
  /** Test doubles shrink GitHub's pacing. */
  msPerSecond?: number
}

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error'

export class GitHubDeployments {
  private readonly client: Client
  private readonly owner: string
  private readonly repo: string

  constructor(private readonly t: DeploymentTarget) {
    ;[this.owner, this.repo] = t.repoPath.split('/')
    this.client = createGitHubClient(t)
  }

  /** Creates the deployment for `sha` in `environment`; answers its id. */
  async create(o: {sha: string; environment: string; description: string}): Promise<number> {
    const res = await this.call('create a deployment', () =>
      this.client.rest.repos.createDeployment({
        owner: this.owner,
        repo: this.repo,
        ref: o.sha,
        environment: o.environment,
        description: o.description.slice(0, 140),
        auto_merge: false,
        required_contexts: [],
        transient_environment: false
      })
    )
    const id = (res.data as {id?: number}).id
    if (typeof id !== 'number') {
      // 202 "Auto-merged ... " answers carry no deployment; with auto_merge false it means a proxy in the way.
      throw new OperationError(
        `GitHub did not create a deployment (${(res.data as {message?: string}).message ?? `HTTP ${res.status}`}); check --github-api-url`
      )
    }
    return id
  }

  /** Moves the deployment to `state`; the URLs link the environment and the log to Argo CD. */
  async status(
    id: number,
    o: {state: DeploymentState; environment: string; url?: string; description: string}
  ): Promise<void> {
    await this.call(`set the deployment status to ${o.state}`, () =>
      this.client.rest.repos.createDeploymentStatus({
        owner: this.owner,
        repo: this.repo,
        deployment_id: id,
        state: o.state,
        environment: o.environment,
        description: o.description.slice(0, 140),
        ...(o.url ? {environment_url: o.url, log_url: o.url} : {}),
        auto_inactive: true
      })
    )
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      const status = statusOf(e)
      const fix =
        status === 401
          ? 'set GITHUB_TOKEN (the action input github-token) to a valid token'
          : status === 403 || status === 404
            ? `give the token \`deployments: write\` on ${this.t.repoPath} (workflow \`permissions: deployments: write\`)`
            : status === 409
              ? 'the commit status checks blocked the deployment; this should not happen with required_contexts [], report it'
              : `retry later; check that ${this.t.apiUrl} is reachable`
      throw new OperationError(
        `GitHub could not ${what} on ${this.t.repoPath}: ${status ? `HTTP ${status} ` : ''}${errorText(e)}; ${fix}`,
        {cause: e}
      )
    }
  }
}
