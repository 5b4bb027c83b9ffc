import {existsSync, readFileSync} from 'node:fs'
import {lstat, readdir, readFile} from 'node:fs/promises'
import {join, relative, sep} from 'node:path'
import {UsageError} from '../core/errors.js'
import {inlineValue} from '../core/commit-message.js'
import {readImageEntries, setImagesInText} from '../core/kustomize/kustomization-file.js'
import {
  PROMOTION_CONFIG_FILE,
  parsePromotionConfig,
  type PromotionConfig
} from '../core/promotion/config.js'
import {
  discoverApps,
  resolveEnvironments,
  selectApps,
  type ResolvedPromotion
} from '../core/promotion/environments.js'
import {formatPin, type NewNamePolicy} from '../core/promotion/pins.js'
import {planPromotion, type PromotionPlan} from '../core/promotion/plan.js'
import type {PrChange} from '../forge/pr-body.js'
import type {ApiPlanner, Edit} from './edit.js'
import {writeFiles} from './workspace.js'
import {mapLimit} from '../core/map-limit.js'
import {directoryFor} from '../core/promotion/environments.js'
import {KUSTOMIZATION_NAMES} from '../core/promotion/plan.js'
import type {RemoteView} from '../forge/repo-api.js'

export interface PromoteRequest {
  from: string
  to?: string
  next: boolean
  apps: string[]
  files: string[]
  policy: NewNamePolicy
  /** --add-missing: add pins for images the target has no entry for. */
  addMissing?: boolean
}

export interface FileWrite {
  file: string
  /** null: the file is new. */
  before: Buffer | null
  after: Buffer
}

export interface CheckoutPlan {
  changed: boolean
  resolved: ResolvedPromotion
  plan: PromotionPlan
  /** Every file the promotion writes (remote-write commits exactly these). */
  files: FileWrite[]
  /** One line per change, for the PR body marker and commit message. */
  changes: PrChange[]
}

/**
 * Plans a promotion on a checkout. Pure with respect to the checkout: it is
 * run again from scratch on a fresh tip after a lost push race, so it must
 * not remember anything from a previous attempt.
 */
export async function planCheckout(root: string, request: PromoteRequest): Promise<CheckoutPlan> {
  const config = await readConfig(root)
  const contents = new Map<string, Buffer>()
  const read = (path: string): Buffer => {
    let c = contents.get(path)
    if (!c) {
      // Synchronous reads keep the planner a plain function; the set is a handful of small files.
      c = readFileSync(join(root, path))
      contents.set(path, c)
    }
    return c
  }
  return planSnapshot({config, files: await listFiles(root), read}, request)
}

/** A repository as the promotion planner sees it: a checkout, or files read through a forge API. */
export interface RepoSnapshot {
  config: PromotionConfig | undefined
  /** Regular files (no symlinks), slash-separated, sorted. */
  files: string[]
  read(path: string): Buffer
}

/** planCheckout without the file system: the same plan from a file list and a reader. */
export function planSnapshot(snapshot: RepoSnapshot, request: PromoteRequest): CheckoutPlan {
  const {config, read} = snapshot
  const resolved = resolveEnvironments(config, request)
  const tree = snapshot.files
  if (!resolved.perApp && request.apps.length > 0) {
    throw new UsageError(
      `--app needs {app} in the environment paths, and '${resolved.source.template}' has none; drop --app (this repo holds one app per environment)`
    )
  }
  const found = discoverApps(resolved.source.template, tree)
  if (found.length === 0) {
    throw new UsageError(
      resolved.perApp
        ? `no app found: nothing matches '${resolved.source.template}' for '${resolved.source.name}'; check the path in ${PROMOTION_CONFIG_FILE} or --from`
        : `'${resolved.source.template}' (${resolved.source.name}) does not exist in the config repo; check --from`
    )
  }
  const apps = selectApps(found, request.apps, resolved.source.name)
  const plan = planPromotion({
    resolved,
    apps,
    files: tree,
    read,
    readEntries: (text, path) => readImageEntries(text, path),
    policy: request.policy,
    fileGlobs: request.files,
    addMissing: request.addMissing === true
  })
  const files: FileWrite[] = []
  const changes: PrChange[] = []
  for (const edit of plan.edits) {
    const before = read(edit.file)
    const result = setImagesInText(before.toString('utf8'), edit.args, edit.file)
    if (result.kind === 'unchanged') continue
    files.push({file: edit.file, before, after: Buffer.from(result.text, 'utf8')})
  }
  for (const app of plan.apps) {
    for (const i of app.images) {
      if (i.kind !== 'promoted') continue
      changes.push({
        file: app.file!,
        image: i.name,
        before: i.added ? '(no entry)' : formatPin(i.before),
        // The commit message, PR body and summary all say when a promotion goes back in version.
        after: `${formatPin(i.after)}${i.downgrade ? ' (downgrade)' : ''}`
      })
    }
  }
  for (const copy of plan.copies) {
    const exists = tree.includes(copy.to)
    files.push({file: copy.to, before: exists ? read(copy.to) : null, after: copy.content})
    changes.push({
      file: copy.to,
      key: '(file)',
      before: exists ? 'differs' : '',
      after: `copy of ${copy.from}`
    })
  }
  return {changed: files.length > 0, resolved, plan, files, changes}
}

/** Writes the planned files through the one workspace writer (no path may resolve outside the checkout). */
export async function writeCheckoutPlan(root: string, plan: CheckoutPlan): Promise<void> {
  await writeFiles(root, plan.files)
}

async function readConfig(root: string) {
  const path = join(root, PROMOTION_CONFIG_FILE)
  if (!existsSync(path)) {
    if (existsSync(join(root, '.gitops-deploy.yml'))) {
      throw new UsageError(
        `found .gitops-deploy.yml; the promotion config is read from ${PROMOTION_CONFIG_FILE} only — rename the file`
      )
    }
    return undefined
  }
  const stat = await lstat(path)
  if (!stat.isFile())
    throw new UsageError(
      `${PROMOTION_CONFIG_FILE} must be a regular file, not a symlink or directory`
    )
  return parsePromotionConfig(await readFile(path, 'utf8'))
}

/**
 * Regular files of the checkout, slash-separated. Symlinks are skipped, not
 * followed: promotion must never read or write outside the repository.
 */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, {withFileTypes: true})
    for (const e of entries) {
      if (e.name === '.git' && dir === root) continue
      const path = join(dir, e.name)
      if (e.isDirectory()) await walk(path)
      else if (e.isFile()) out.push(relative(root, path).split(sep).join('/'))
    }
  }
  await walk(root)
  return out.sort()
}

// --------------------------------------------------------- the API face ---

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
      const config = await readConfigApi(view, entries)
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

async function readConfigApi(view: RemoteView, entries: {path: string; kind: string}[]) {
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

// ------------------------------------------------------------ the edit ---

/** Subject from --message, one line per change, and trailers that say where the pins came from. */
export function commitMessage(template: string | undefined, plan: CheckoutPlan): string {
  const from = inlineValue(plan.resolved.source.name)
  const to = inlineValue(plan.resolved.target.name)
  const promoted = plan.plan.apps.filter(a => a.status === 'promoted').map(a => inlineValue(a.app))
  const vars: Record<string, string> = {
    from,
    to,
    apps: promoted.join(', '),
    summary: `${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'}`
  }
  const subject = (template ?? 'Promote {{from}} to {{to}}: {{apps}}')
    .replace(/\{\{\s*([a-z]+)\s*\}\}/g, (_, n: string) => vars[n] ?? '')
    .split('\n')[0]
  const lines = plan.changes.map(c =>
    inlineValue(
      c.image ? `- ${c.file}: ${c.image} ${c.before} -> ${c.after}` : `- ${c.file}: ${c.after}`
    )
  )
  const missing = plan.plan.apps
    .filter(a => a.status === 'missing-in-target')
    .map(a => inlineValue(a.app))
  const notes = missing.length > 0 ? [`Not in ${to} (not created): ${missing.join(', ')}`, ''] : []
  return `${subject}\n\n${lines.join('\n')}\n\n${notes.join('\n')}Promoted-From: ${from}\nPromoted-To: ${to}\n`
}

export const MESSAGE_VARIABLES = ['from', 'to', 'apps', 'summary'] as const

/** --message for promote: a subject with {{from}}, {{to}}, {{apps}}, {{summary}}. */
export function checkMessageTemplate(template: string): void {
  for (const m of template.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    if (!(MESSAGE_VARIABLES as readonly string[]).includes(m[1])) {
      throw new UsageError(
        `--message uses unknown variable {{${m[1]}}}; use ${MESSAGE_VARIABLES.map(v => `{{${v}}}`).join(', ')}`
      )
    }
  }
  if (template.trim() === '')
    throw new UsageError('--message is empty; give a commit subject or leave it out')
}

/** The promotion as an edit any delivery mode can carry; re-planned from scratch on every new tip. */
export function promoteEdit(request: PromoteRequest): Edit<CheckoutPlan> {
  const api = promoteApiPlanner(request)
  return {
    // Promotion discovers apps from the tree and kustomize bases may live anywhere: check out everything.
    patterns: {dirGlobs: [''], files: []},
    plan: root => planCheckout(root, request),
    write: (root, outcome) => writeCheckoutPlan(root, outcome),
    // Its own API face: the plan needs the file list and a handful of files, never the whole tree's contents.
    planApi: view => api.plan(view),
    writes: o =>
      o.files.map(f => ({
        path: f.file,
        before: f.before === null ? null : f.before.toString('utf8'),
        after: f.after.toString('utf8')
      })),
    prChanges: o => (o.changed ? o.changes : []),
    message: (o, ctx) => commitMessage(ctx.template, o),
    pr: {paths: []}
  }
}
