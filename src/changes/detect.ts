import {OperationError} from '../core/errors.js'
import type {CiContext} from './ci-context.js'
import type {FileChange, PathFilter} from './filter.js'
import {
  commitExists,
  currentBranch,
  Deepener,
  diffNameStatus,
  fetchBranch,
  fetchCommit,
  firstParentLog,
  isShallow,
  mergeBase,
  remoteDefaultBranch,
  resolveCommit,
  shallowCommits,
  tagsPointingAt,
  type HistoryContext
} from './history.js'
import {formatTag, type TagFormat} from './tag-format.js'

export interface DetectOptions {
  cwd: string
  remote: string
  filter: PathFilter
  context: CiContext
  tagFormat: TagFormat
  /** Tuning for tests and benchmarks; the defaults suit CI. */
  deepen?: {initialStep?: number; unshallowAfter?: number}
  history?: Partial<HistoryContext>
  log?: (message: string) => void
}

interface Decided {
  head: string
  /** The commit the changes were computed against; undefined when there was none. */
  base?: string
  /** The commit whose build inputs the image holds: the newest first-parent commit that changed them. */
  sourceCommit: string
  imageTag: string
  /** Files changed between base and head; undefined when nothing was compared. */
  changedFiles?: number
  /** The changes between base and head (renames with both paths); undefined when nothing was compared. */
  changes?: FileChange[]
  /** The changed files that matched the build paths (renames as `old -> new`). */
  matchedFiles: string[]
  reason: string
  event: string
  /** How many fetches deepening the shallow clone took. */
  fetches: number
}

/**
 * `build`: the image for `imageTag` must be built now (possibly because the
 * answer was uncertain: `failOpen`). `reuse`: the image `imageTag` was built by
 * an earlier pipeline and can be deployed as is.
 */
export type ChangesResult =
  (Decided & {kind: 'build'; failOpen: boolean}) | (Decided & {kind: 'reuse'})

const short = (sha: string) => sha.slice(0, 12)
const SHA = /^[0-9a-f]{40,64}$/

export async function detectChanges(options: DetectOptions): Promise<ChangesResult> {
  const h: HistoryContext = {
    cwd: options.cwd,
    remote: options.remote,
    log: options.log,
    ...options.history
  }
  const deepener = new Deepener(h, options.deepen)
  const ctx = options.context
  const {filter} = options

  const head = await ensureHead(h, ctx.head)
  const wants = [head]
  const shallow = await isShallow(h)

  const sourceOf = (start: string) => findSource(h, filter, deepener, start, wants)

  const finish = async (
    decision: {kind: 'build'; failOpen: boolean} | {kind: 'reuse'},
    fields: {
      base?: string
      changes?: FileChange[]
      matched?: FileChange[]
      reason: string
      source?: string | null
    }
  ): Promise<ChangesResult> => {
    const source = fields.source === undefined ? await sourceOf(head) : fields.source
    let reason = fields.reason
    if (source === null) {
      reason += `; no commit reachable from ${short(head)} touches the build paths (check --build-paths), so the tag names head`
    }
    const sourceCommit = source ?? head
    const perRefValues = options.tagFormat.uses.has('branch') || options.tagFormat.uses.has('tag')
    const imageTag = formatTag(options.tagFormat, {
      sha: sourceCommit,
      ...(perRefValues ? await refValues(h, ctx, head) : {})
    })
    return {
      ...decision,
      head,
      base: fields.base,
      sourceCommit,
      imageTag,
      changedFiles: fields.changes?.length,
      changes: fields.changes,
      matchedFiles: (fields.matched ?? []).map(c => (c.from ? `${c.from} -> ${c.path}` : c.path)),
      reason,
      event: ctx.event,
      fetches: deepener.fetches
    }
  }
  const failOpen = (reason: string, base?: string) =>
    finish({kind: 'build', failOpen: true}, {reason: `building to be safe: ${reason}`, base})

  if (ctx.kind === 'no-base') return failOpen(ctx.reason)

  let base: string
  let compare: 'direct' | 'merge-base'
  let sameRef: boolean
  if (ctx.kind === 'new-ref') {
    const defaultBranch = ctx.defaultBranch ?? (await remoteDefaultBranch(h))
    if (!defaultBranch) {
      return failOpen(
        `${ctx.event}: the ref is new and the default branch is unknown; pass --default-branch`
      )
    }
    const tip = await fetchBranch(h, defaultBranch, shallow)
    if (!tip)
      return failOpen(
        `${ctx.event}: the ref is new and branch '${defaultBranch}' could not be fetched from '${h.remote}'`
      )
    wants.push(tip)
    base = tip
    compare = 'merge-base'
    sameRef = false
  } else {
    const found = await ensureCommit(h, deepener, ctx.base, wants, shallow)
    if (!found) {
      const why = ctx.forced ? 'force push' : 'force push or rewritten history'
      return failOpen(
        `base commit ${short(ctx.base)} no longer exists (${why}), so the changes cannot be listed`
      )
    }
    base = found
    wants.push(base)
    compare = ctx.compare
    sameRef = ctx.sameRef
  }

  let diffBase = base
  if (compare === 'merge-base') {
    const mb = await ensureMergeBase(h, deepener, base, head, wants)
    if (!mb) return failOpen(`${short(base)} and ${short(head)} share no history`, base)
    diffBase = mb
  }

  const changes = await diffNameStatus(h, diffBase, head)
  const matched = changes.filter(c => filter.matchesChange(c))
  const fields = {base: diffBase, changes, matched}
  const against = compare === 'merge-base' ? `merge-base ${short(diffBase)}` : short(diffBase)
  if (matched.length > 0) {
    return finish(
      {kind: 'build', failOpen: false},
      {
        ...fields,
        reason: `${matched.length} of ${changes.length} files changed since ${against} match the build paths`
      }
    )
  }
  const passed = new Set<string>()
  const sourceHead = await findSource(h, filter, deepener, head, wants, passed)
  if (sourceHead === null) {
    return finish(
      {kind: 'build', failOpen: true},
      {...fields, source: null, reason: 'building to be safe'}
    )
  }
  // No build input changed, yet the image to reuse must be the one an earlier
  // pipeline built: that is base's source commit. They differ when history was
  // rewritten (force push) or a change was made and undone within the range.
  // When head's walk went through the base, the base's walk is its tail: same answer, no second log.
  const sourceBase =
    diffBase === sourceHead || passed.has(diffBase) ? sourceHead : await sourceOf(diffBase)
  if (sourceBase !== sourceHead) {
    return finish(
      {kind: 'build', failOpen: true},
      {
        ...fields,
        source: sourceHead,
        reason: `building to be safe: no build path changed since ${against}, but the newest commit touching them is ${short(sourceHead)} for head and ${sourceBase ? short(sourceBase) : 'none'} for the base (rewritten or reverted history), so no image for ${short(sourceHead)} is known to exist`
      }
    )
  }
  const perRef = [...options.tagFormat.uses].filter(p => p === 'branch' || p === 'tag')
  if (perRef.length > 0 && !sameRef) {
    return finish(
      {kind: 'build', failOpen: true},
      {
        ...fields,
        source: sourceHead,
        reason: `building to be safe: --tag-format uses {${perRef.join('}, {')}}, which names images per ref, and the base ${short(diffBase)} was built for another ref`
      }
    )
  }
  return finish(
    {kind: 'reuse'},
    {
      ...fields,
      source: sourceHead,
      reason: `none of the ${changes.length} files changed since ${against} match the build paths; reusing the image of ${short(sourceHead)}, the newest commit that changed them`
    }
  )
}

async function ensureHead(h: HistoryContext, wanted: string | undefined): Promise<string> {
  const rev = wanted ?? 'HEAD'
  const local = await resolveCommit(h, rev)
  if (local) return local
  if (
    wanted &&
    SHA.test(wanted) &&
    (await fetchCommit(h, wanted, await isShallow(h))) === 'fetched'
  ) {
    return wanted
  }
  throw new OperationError(
    `head commit '${rev}' is not in the checkout at ${h.cwd} and could not be fetched from '${h.remote}'; check out that commit (actions/checkout ref) or pass --head`
  )
}

/** The base commit, fetched if needed; undefined when the server no longer has it. */
async function ensureCommit(
  h: HistoryContext,
  deepener: Deepener,
  rev: string,
  wants: string[],
  shallow: boolean
): Promise<string | undefined> {
  const local = await resolveCommit(h, rev)
  if (local) return local
  if (!SHA.test(rev)) {
    throw new OperationError(
      `base '${rev}' is not a commit in this checkout; pass a full commit sha as --base`
    )
  }
  const fetched = await fetchCommit(h, rev, shallow)
  if (fetched === 'fetched') return rev
  if (fetched === 'gone') return undefined
  // Old servers refuse commits by id; the base of a push is an ancestor of
  // head, so deepening reaches it. A rewritten base is never reached, and
  // deepening stops when the history is complete.
  while ((await deepener.deepen(wants)) === 'deepened') {
    if (await commitExists(h, rev)) return rev
  }
  return undefined
}

async function ensureMergeBase(
  h: HistoryContext,
  deepener: Deepener,
  a: string,
  b: string,
  wants: string[]
): Promise<string | undefined> {
  for (;;) {
    const mb = await mergeBase(h, a, b)
    if (mb) return mb
    if ((await deepener.deepen(wants)) === 'complete') return undefined
  }
}

/**
 * The newest commit on the first-parent line from `start` whose own changes
 * (against its first parent) match the filter; null when none does. A commit
 * at the shallow boundary has no known parent and would look as if it added
 * every file, so its history is deepened first: never answer from a cut.
 * `passed` collects the commits walked over before the answer.
 */
export async function findSource(
  h: HistoryContext,
  filter: PathFilter,
  deepener: Deepener,
  start: string,
  wants: string[],
  passed?: Set<string>
): Promise<string | null> {
  let from = start
  let skip = 0
  let page = 64
  for (;;) {
    const cut = await shallowCommits(h)
    const entries = await firstParentLog(h, from, skip, page)
    let restart = false
    for (const entry of entries) {
      if (cut.has(entry.sha)) {
        if (
          (await deepener.deepen(wants)) === 'complete' &&
          (await shallowCommits(h)).has(entry.sha)
        ) {
          throw new OperationError(
            `the history behind ${short(entry.sha)} is not available even after fetching everything from '${h.remote}'; check out with full history (fetch-depth: 0 / GIT_DEPTH: 0)`
          )
        }
        from = entry.sha
        skip = 0
        restart = true
        break
      }
      if (entry.files.some(f => filter.matchesPath(f))) return entry.sha
      passed?.add(entry.sha)
    }
    if (restart) continue
    if (entries.length < page) return null
    skip += page
    page = Math.min(page * 2, 4096)
  }
}

async function refValues(
  h: HistoryContext,
  ctx: CiContext,
  head: string
): Promise<{branch?: string; tag?: string}> {
  return {
    branch: ctx.ref.branch ?? (ctx.head === undefined ? await currentBranch(h) : undefined),
    tag: ctx.ref.tag ?? (await tagsPointingAt(h, head))[0]
  }
}
