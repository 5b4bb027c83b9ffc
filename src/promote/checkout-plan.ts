import {existsSync, readFileSync} from 'node:fs'
import {lstat, mkdir, readdir, readFile, realpath, writeFile} from 'node:fs/promises'
import {dirname, join, relative, sep} from 'node:path'
import {OperationError, UsageError} from '../core/errors.js'
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

export interface PromoteRequest {
  from: string
  to?: string
  next: boolean
  apps: string[]
  files: string[]
  policy: NewNamePolicy
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
    fileGlobs: request.files
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
        before: formatPin(i.before),
        after: formatPin(i.after)
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

/** Writes the planned files, refusing any path that resolves outside the checkout (symlinks). */
export async function writeCheckoutPlan(root: string, plan: CheckoutPlan): Promise<void> {
  const realRoot = await realpath(root)
  for (const f of plan.files) {
    const path = join(root, f.file)
    await mkdir(dirname(path), {recursive: true})
    const parent = await realpath(dirname(path))
    if (parent !== realRoot && !parent.startsWith(realRoot + sep)) {
      throw new OperationError(
        `refusing to write ${f.file}: its directory resolves outside the repository (a symlink); replace the symlink with a real directory`
      )
    }
    const stat = await lstat(path).catch(() => undefined)
    if (stat?.isSymbolicLink()) {
      throw new OperationError(
        `refusing to write ${f.file}: it is a symlink; replace it with a regular file`
      )
    }
    await writeFile(path, f.after)
  }
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
