import {OperationError, UsageError} from '../core/errors.js'
import type {Identity} from '../git/git.js'
import {DEFAULT_BACKOFF, backoffDelay, pause, type Backoff} from '../core/backoff.js'
import type {ApiPlanner, PlanOutcome} from '../edits/edit.js'
import {
  RemoteView,
  TransportUnavailable,
  type RepoApi,
  type Verification
} from '../forge/repo-api.js'

export interface ApiWriteOptions<O extends PlanOutcome> {
  api: RepoApi
  /** Defaults to the repository's default branch. */
  branch?: string
  planner: ApiPlanner<O>
  message: (outcome: O, branch: string) => string
  author: Identity
  maxAttempts: number
  dryRun: boolean
  /** Read the commit's signature status even when not required (GitHub: one request). */
  checkVerification: boolean
  log?: (message: string) => void
  debug?: (message: string) => void
  backoff?: Backoff
}

interface Common {
  branch: string
  attempts: number
}

export type ApiWriteResult<O extends PlanOutcome> =
  | (Common & {
      kind: 'pushed'
      commit: string
      base: string
      outcome: O
      message: string
      verification?: Verification
    })
  | (Common & {kind: 'unchanged'; base: string; outcome: O})
  | (Common & {kind: 'dry-run'; base: string; outcome: O; message: string})
  | (Common & {kind: 'rejected'; reason: string; detail: string; outcome: O})

/**
 * The API twin of remoteWrite: read what the planner asks for at the branch
 * tip, plan, and create the commit conditionally on what was read (GitHub:
 * the branch tip; GitLab: each file's last commit). When another writer got
 * there first, read again at the new tip and plan from scratch, with the same
 * jittered backoff as the git path.
 */
export async function apiWrite<O extends PlanOutcome>(
  options: ApiWriteOptions<O>
): Promise<ApiWriteResult<O>> {
  const {api} = options
  const log = options.log ?? (() => undefined)
  const branch = options.branch ?? (await api.defaultBranch())
  let head = await api.branchHead(branch)
  if (!head) {
    throw new UsageError(
      `branch '${branch}' does not exist in ${api.where}; create it or pass an existing --branch`
    )
  }
  const backoff = options.backoff ?? DEFAULT_BACKOFF
  // Blob contents by sha, shared across attempts: a retry re-reads only what changed.
  const blobs = new Map<string, Buffer>()
  for (let attempt = 1; ; attempt++) {
    const started = Date.now()
    const common = {branch, attempts: attempt}
    const view = new RemoteView(api, head, blobs)
    const {outcome, writes} = await options.planner.plan(view)
    if (!outcome.changed || writes.length === 0)
      return {...common, kind: 'unchanged', base: head, outcome}
    const message = options.message(outcome, branch)
    if (options.dryRun) return {...common, kind: 'dry-run', base: head, outcome, message}
    const prepared = await view.prepare(writes)
    options.debug?.(
      `API commit of ${prepared.length} file${prepared.length === 1 ? '' : 's'} on ${branch} at ${head.slice(0, 12)}`
    )
    const result = await api.commit({
      branch,
      parent: head,
      message,
      author: options.author,
      writes: prepared
    })
    switch (result.kind) {
      case 'committed': {
        const verification = options.checkVerification
          ? await api.verification(result.commit)
          : undefined
        return {
          ...common,
          kind: 'pushed',
          commit: result.commit,
          base: head,
          outcome,
          message,
          ...(verification ? {verification} : {})
        }
      }
      case 'unavailable':
        throw new TransportUnavailable(
          `${api.where} cannot create commits through its API (${result.detail})`
        )
      case 'rejected':
        return {...common, kind: 'rejected', reason: result.reason, detail: result.detail, outcome}
      case 'stale': {
        if (attempt >= options.maxAttempts) {
          return {
            ...common,
            kind: 'rejected',
            reason: 'moved',
            detail: `the branch kept moving: ${attempt} attempt${attempt === 1 ? '' : 's'} lost the race to other writers (last: ${result.detail}); raise --max-attempts or serialise the jobs (CI concurrency group)`,
            outcome
          }
        }
        const delay = backoffDelay(attempt, backoff, Date.now() - started)
        log(
          `API commit refused (${branch} moved or a file changed: ${result.detail}); attempt ${attempt + 1} of ${options.maxAttempts} in ${delay} ms on the new tip`
        )
        await pause(backoff, delay)
        // The write slot first, then the tip: a tip read before the pacing wait is stale by the time we write.
        await api.writeSlot?.()
        const next = await api.branchHead(branch)
        if (!next) {
          throw new OperationError(
            `branch '${branch}' disappeared from ${api.where} while we were writing; re-run once it exists again`
          )
        }
        head = next
      }
    }
  }
}
