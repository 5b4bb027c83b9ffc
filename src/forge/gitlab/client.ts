import {Gitlab} from '@gitbeaker/rest'
import {errorMessage} from '../../core/errors.js'

/**
 * The one way this project talks to GitLab's REST API: a @gitbeaker/rest
 * client per target, shared by the merge request client (pulls.ts) and the
 * commit client (commits.ts). The token travels in the PRIVATE-TOKEN header
 * only, never in a URL.
 */
export type GitLabClient = InstanceType<typeof Gitlab>

export interface GitLabClientOptions {
  /** `https://host/api/v4` (gitbeaker adds the `/api/v4` itself). */
  apiUrl: string
  token: string
  /** Per request; gitbeaker's default is 300 s. */
  timeoutMs?: number
}

export function gitLabClient(options: GitLabClientOptions): GitLabClient {
  const host = gitLabHost(options.apiUrl)
  return new Gitlab({
    host,
    token: options.token,
    ...(options.timeoutMs !== undefined ? {queryTimeout: options.timeoutMs} : {})
  })
}

/** `https://host/api/v4` → `https://host`. */
export function gitLabHost(apiUrl: string): string {
  return apiUrl.replace(/\/+$/, '').replace(/\/api\/v4$/, '')
}

/** The HTTP status of a GitbeakerRequestError; undefined for anything that got no answer. */
export function statusOf(e: unknown): number | undefined {
  const cause = (e as {cause?: {response?: {status?: number}}}).cause
  const s = cause?.response?.status
  return typeof s === 'number' ? s : undefined
}

/** GitLab's `error` or `message` from the answer, as gitbeaker read it. */
export function errorText(e: unknown): string {
  const d = (e as {cause?: {description?: string}}).cause?.description
  return d || errorMessage(e)
}
