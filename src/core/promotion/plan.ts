import picomatch from 'picomatch'
import {UsageError} from '../errors.js'
import {directoryFor, type ResolvedPromotion} from './environments.js'
import {pinOf, planPins, type ImageOutcome, type NewNamePolicy, type PinEntry} from './pins.js'
import {KUSTOMIZATION_FILE_NAMES} from '../kustomize/kustomization-file.js'

/** The names kustomize accepts for a kustomization, in its own lookup order. */
export const KUSTOMIZATION_NAMES: readonly string[] = KUSTOMIZATION_FILE_NAMES

export type KustomizationLookup =
  {kind: 'found'; path: string} | {kind: 'none'} | {kind: 'multiple'; paths: string[]}

export function findKustomization(dir: string, files: ReadonlySet<string>): KustomizationLookup {
  const paths = KUSTOMIZATION_NAMES.map(n => `${dir}/${n}`).filter(p => files.has(p))
  if (paths.length === 0) return {kind: 'none'}
  if (paths.length > 1) return {kind: 'multiple', paths}
  return {kind: 'found', path: paths[0]}
}

export type FileOutcome =
  | {kind: 'created'; from: string; to: string}
  | {kind: 'updated'; from: string; to: string}
  | {kind: 'unchanged'; from: string; to: string}

/** not-promoted: nothing changed, but the source pins images the target has no entry for. */
export type AppStatus = 'promoted' | 'unchanged' | 'not-promoted' | 'missing-in-target'

export interface AppPromotion {
  app: string
  status: AppStatus
  sourceDir: string
  targetDir: string
  /** The target kustomization, when the app exists there. */
  file?: string
  images: ImageOutcome[]
  files: FileOutcome[]
}

/** One target kustomization and the `set image` arguments it needs. */
export interface KustomizationEdit {
  app: string
  file: string
  args: string[]
}

export interface FileCopy {
  app: string
  from: string
  to: string
  /** Source bytes; written verbatim. */
  content: Buffer
}

export interface PromotionPlan {
  apps: AppPromotion[]
  edits: KustomizationEdit[]
  copies: FileCopy[]
}

export interface PlanInput {
  resolved: ResolvedPromotion
  apps: readonly string[]
  /** Every file in the repo, slash-separated, relative to the root. */
  files: readonly string[]
  read(path: string): Buffer
  readEntries(text: string, path: string): PinEntry[]
  policy: NewNamePolicy
  /** `--files` globs, relative to the environment directory. */
  fileGlobs: readonly string[]
  /** --add-missing: add the entry for an image the target does not list yet. */
  addMissing?: boolean
}

/**
 * Plans a whole promotion from a snapshot of the repo. Nothing is written
 * here; a missing source kustomization is the caller's mistake (exit 2),
 * a missing target app is a finding (reported, never created).
 */
export function planPromotion(input: PlanInput): PromotionPlan {
  const fileSet = new Set(input.files)
  const {source, target} = input.resolved
  const apps: AppPromotion[] = []
  const edits: KustomizationEdit[] = []
  const copies: FileCopy[] = []
  const matchers = input.fileGlobs.map(g => picomatch(g, {dot: true}))
  const globHits = input.fileGlobs.map(() => 0)
  for (const app of input.apps) {
    const sourceDir = directoryFor(source.template, app)
    const targetDir = directoryFor(target.template, app)
    const from = lookup(sourceDir, fileSet, `'${app}' in '${source.name}'`)
    if (from.kind === 'none') {
      throw new UsageError(
        `${sourceDir} has no kustomization.yaml, so '${app}' in '${source.name}' has no image pins to promote; check --from or the path template`
      )
    }
    const to = lookup(targetDir, fileSet, `'${app}' in '${target.name}'`)
    const sourceEntries = input.readEntries(input.read(from.path).toString('utf8'), from.path)
    if (to.kind === 'none') {
      apps.push({
        app,
        status: 'missing-in-target',
        sourceDir,
        targetDir,
        images: sourceEntries
          .filter(e => e.name)
          .map(e => ({kind: 'not-in-target' as const, name: e.name!, pin: pinOf(e)})),
        files: []
      })
      continue
    }
    const targetEntries = input.readEntries(input.read(to.path).toString('utf8'), to.path)
    const pins = planPins(sourceEntries, targetEntries, input.policy, input.addMissing === true)
    if (pins.args.length > 0) edits.push({app, file: to.path, args: pins.args})
    const fileOutcomes: FileOutcome[] = []
    if (matchers.length > 0) {
      const prefix = `${sourceDir}/`
      for (const f of input.files) {
        if (!f.startsWith(prefix)) continue
        const rel = f.slice(prefix.length)
        // The kustomization is promoted pin by pin; copying it whole would drag the source's namespace and replicas along.
        if (!rel.includes('/') && KUSTOMIZATION_NAMES.includes(rel)) continue
        const hits = matchers.map(m => m(rel))
        hits.forEach((hit, i) => hit && globHits[i]++)
        if (!hits.includes(true)) continue
        const dest = `${targetDir}/${rel}`
        const content = input.read(f)
        if (!fileSet.has(dest)) {
          fileOutcomes.push({kind: 'created', from: f, to: dest})
          copies.push({app, from: f, to: dest, content})
        } else if (!input.read(dest).equals(content)) {
          fileOutcomes.push({kind: 'updated', from: f, to: dest})
          copies.push({app, from: f, to: dest, content})
        } else fileOutcomes.push({kind: 'unchanged', from: f, to: dest})
      }
    }
    const changed = pins.args.length > 0 || fileOutcomes.some(f => f.kind !== 'unchanged')
    apps.push({
      app,
      status: changed
        ? 'promoted'
        : pins.images.some(i => i.kind === 'not-in-target')
          ? 'not-promoted'
          : 'unchanged',
      sourceDir,
      targetDir,
      file: to.path,
      images: pins.images,
      files: fileOutcomes
    })
  }
  // Every target directory empty: a typo in --to or in the path template, not a finding. Saying
  // "already has the pins" (exit 0) would let the pipeline believe the promotion happened.
  const absent = apps.filter(
    a => a.status === 'missing-in-target' && !input.files.some(f => f.startsWith(`${a.targetDir}/`))
  )
  if (apps.length > 0 && absent.length === apps.length) {
    throw new UsageError(
      `'${target.name}' directory ${absent.map(a => a.targetDir).join(', ')} holds no files in the config repo, so nothing can be promoted into it; check --to or the path template in .gitops-deploy.yaml (a typo?), or create the overlay first`
    )
  }
  const promotable = apps.filter(a => a.status !== 'missing-in-target')
  const idle = input.fileGlobs.filter((_, i) => globHits[i] === 0)
  if (idle.length > 0 && promotable.length > 0) {
    if (KUSTOMIZATION_NAMES.some(n => picomatch(idle[0], {dot: true})(n))) {
      throw new UsageError(
        `--files '${idle[0]}' only matches the kustomization, which is never copied: its image pins are promoted and its other fields differ per environment by design; copy other files with --files`
      )
    }
    throw new UsageError(
      `--files '${idle[0]}' matches no file under ${promotable.map(a => a.sourceDir).join(', ')}; globs are relative to the environment directory (e.g. 'config/*.properties')`
    )
  }
  return {apps, edits, copies}
}

function lookup(
  dir: string,
  files: ReadonlySet<string>,
  what: string
): {kind: 'found'; path: string} | {kind: 'none'} {
  const found = findKustomization(dir, files)
  if (found.kind === 'multiple') {
    throw new UsageError(
      `${what} has several kustomization files (${found.paths.join(', ')}); kustomize refuses that too — keep one`
    )
  }
  return found
}
