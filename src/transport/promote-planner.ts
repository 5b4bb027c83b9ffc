import {UsageError} from '../core/errors.js'
import {mapLimit} from '../core/map-limit.js'
import {PROMOTION_CONFIG_FILE, parsePromotionConfig} from '../core/promotion/config.js'
import {
  directoryFor,
  discoverApps,
  resolveEnvironments,
  selectApps
} from '../core/promotion/environments.js'
import {KUSTOMIZATION_NAMES} from '../core/promotion/plan.js'
import {planSnapshot, type CheckoutPlan, type PromoteRequest} from '../promote/checkout-plan.js'
import {type ApiPlanner, type RemoteView} from './transport.js'

const LIMIT = 8

class NotFetched extends Error {
  constructor(readonly path: string) {
    super(`not fetched: ${path}`)
  }
}

/**
 * promote on the API: the planner needs the file list (one tree listing) and
 * the contents of the config, the source and target kustomizations of the
 * selected apps, and with --files the files under the source directories and
 * their counterparts. Those are fetched up front; a read outside that set
 * (the prediction missed) is fetched and the plan runs again.
 */
export function promoteApiPlanner(request: PromoteRequest): ApiPlanner<CheckoutPlan> {
  return {
    async plan(view) {
      const entries = await view.listTree()
      const files = entries
        .filter(e => e.kind === 'file')
        .map(e => e.path)
        .sort()
      // Looked up once per read: a tree listing can hold thousands of entries.
      const byPath = new Map(entries.map(e => [e.path, e]))
      const config = await readConfig(view, entries)
      const contents = new Map<string, Buffer>()
      const fetch = async (paths: string[]) => {
        const todo = [...new Set(paths)].filter(p => !contents.has(p))
        await mapLimit(todo, LIMIT, async path => {
          const file = await view.read(path, byPath.get(path))
          if (file?.kind === 'file') contents.set(path, file.content)
        })
      }
      await fetch(predictReads(files, config, request))
      for (let pass = 0; ; pass++) {
        try {
          const plan = planSnapshot(
            {
              config,
              files,
              read: path => {
                const c = contents.get(path)
                if (!c) throw new NotFetched(path)
                return c
              }
            },
            request
          )
          return {outcome: plan, writes: plan.files.map(f => ({path: f.file, content: f.after}))}
        } catch (e) {
          if (!(e instanceof NotFetched) || pass > files.length) throw e
          await fetch([e.path])
          if (!contents.has(e.path)) {
            throw new UsageError(`${e.path} could not be read from ${view.api.where}`)
          }
        }
      }
    }
  }
}

async function readConfig(view: RemoteView, entries: {path: string; kind: string}[]) {
  const entry = entries.find(e => e.path === PROMOTION_CONFIG_FILE)
  if (!entry) {
    if (entries.some(e => e.path === '.gitops-deploy.yml')) {
      throw new UsageError(
        `found .gitops-deploy.yml; the promotion config is read from ${PROMOTION_CONFIG_FILE} only — rename the file`
      )
    }
    return undefined
  }
  if (entry.kind !== 'file')
    throw new UsageError(
      `${PROMOTION_CONFIG_FILE} must be a regular file, not a symlink or directory`
    )
  const file = await view.read(PROMOTION_CONFIG_FILE, entry as never)
  if (file?.kind !== 'file')
    throw new UsageError(
      `${PROMOTION_CONFIG_FILE} must be a regular file, not a symlink or directory`
    )
  return parsePromotionConfig(file.content.toString('utf8'))
}

/** What planSnapshot will read, from the file list alone; errors are left to the planner. */
function predictReads(
  files: string[],
  config: ReturnType<typeof parsePromotionConfig> | undefined,
  request: PromoteRequest
): string[] {
  let apps: string[]
  let resolved
  try {
    resolved = resolveEnvironments(config, request)
    apps = selectApps(
      discoverApps(resolved.source.template, files),
      request.apps,
      resolved.source.name
    )
  } catch {
    return []
  }
  const set = new Set(files)
  const out: string[] = []
  for (const app of apps) {
    const sourceDir = directoryFor(resolved.source.template, app)
    const targetDir = directoryFor(resolved.target.template, app)
    for (const dir of [sourceDir, targetDir]) {
      for (const n of KUSTOMIZATION_NAMES) if (set.has(`${dir}/${n}`)) out.push(`${dir}/${n}`)
    }
    if (request.files.length > 0) {
      const prefix = `${sourceDir}/`
      for (const f of files) {
        if (!f.startsWith(prefix)) continue
        out.push(f)
        const dest = `${targetDir}/${f.slice(prefix.length)}`
        if (set.has(dest)) out.push(dest)
      }
    }
  }
  return out
}
