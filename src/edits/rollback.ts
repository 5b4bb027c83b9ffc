/**
 * rollback: put the image pins of some overlays back to what they were
 * before their most recent change (or `--steps N` changes back, or at
 * `--to <commit>`), as a normal edit any delivery can carry. Only the pins
 * move: other edits made to the same file since then stay.
 *
 * Two halves: `findRestores` reads the history (git/file-history.ts) and
 * decides what to restore; `rollbackEdit` applies that to whatever tip the
 * delivery sees, and leaves an image alone when the tip no longer holds the
 * pin the history showed (someone fixed forward in between).
 */
import picomatch from 'picomatch'
import {posix} from 'node:path'
import {
  changesBlock,
  ciSourceFromEnv,
  inlineValue,
  trailers,
  type MessageChange
} from '../core/commit-message.js'
import {unifiedDiffs} from '../core/diff.js'
import {UsageError} from '../core/errors.js'
import {
  readImageEntries,
  setImagesInText,
  isKustomizationFile
} from '../core/kustomize/kustomization-file.js'
import {formatPin, pinOf, samePin, setImageArg, type Pin} from '../core/promotion/pins.js'
import {getValueInText, parseSetArg, setValueInText, type SetArg} from '../core/yaml/set-value.js'
import type {FileHistory, HistoryCommit} from '../git/file-history.js'
import type {Edit} from './edit.js'
import {materialisedPlanner} from './materialise.js'
import {prChanges, type EditOutcome, type FileEdit} from './set-image.js'
import {readUtf8, resolveInside, writeFiles, openRoot} from './workspace.js'

/** The trailer that marks our own rollback commits: they are never changes to roll back. */
export const ROLLBACK_TRAILER = 'Rollback-Of'

export interface RollbackRequest {
  /** Overlay directories (globs allowed), relative to the root. */
  paths: string[]
  /** Image names to restore; empty: every image whose pin changed. */
  images: string[]
  /** Restore the pins as they were at this commit. */
  to?: string
  /** How many pin changes back (default 1). */
  steps: number
  reason?: string
  /** `<file>:<key.path>` YAML values (Helm values) to restore like pins. */
  keys?: string[]
}

export interface ImageRestore {
  name: string
  /** The pin the history shows at the tip (what the rollback replaces). */
  from: Pin
  /** The pin to put back. */
  to: Pin
}

export interface FileRestore {
  file: string
  images: ImageRestore[]
  /** The commits whose pin changes this reverses, newest first. */
  reverses: {sha: string; subject: string}[]
}

/** One YAML value to put back. */
export interface KeyRestore {
  file: string
  key: SetArg
  from: string | null
  to: string | null
  reverses: {sha: string; subject: string}[]
}

export interface RollbackPlan {
  restores: FileRestore[]
  /** --key values to put back. */
  keys?: KeyRestore[]
  /** Images left as they are, with why (already at the target, not in the older version...). */
  skipped: {file: string; name: string; reason: string}[]
}

/** `--key values.yaml:image.tag`: a file and a key path, no value. */
export function parseKeyArg(raw: string): SetArg {
  const parsed = parseSetArg(`${raw}=`)
  if (parsed.keyPath.length + parsed.file.length + 1 !== raw.length) {
    throw new UsageError(
      `--key ${JSON.stringify(raw)} takes <file>:<key.path> without a value, e.g. --key apps/web/values.yaml:image.tag`
    )
  }
  return parsed
}

export function isRollbackCommit(message: string): boolean {
  return new RegExp(`^${ROLLBACK_TRAILER}: [0-9a-f]{7,40}\\s*$`, 'm').test(message)
}

function pinsOf(text: string, file: string): Map<string, Pin> {
  const pins = new Map<string, Pin>()
  for (const e of readImageEntries(text, file)) {
    if (e.name && !pins.has(e.name)) pins.set(e.name, pinOf(e))
  }
  return pins
}

function changedPins(
  before: Map<string, Pin>,
  after: Map<string, Pin>,
  names: (n: string) => boolean
): boolean {
  for (const [name, pin] of after) {
    if (!names(name)) continue
    const old = before.get(name)
    if (!old || !samePin(old, pin)) return true
  }
  return false
}

/** The kustomization files under the --path globs at the tip. */
export function rollbackFiles(tipFiles: string[], paths: string[]): string[] {
  const dirs = paths.map(p => p.replace(/\/+$/, '').replace(/^\.\/?/, '') || '.')
  const matchers = dirs.map(d => picomatch(d === '.' ? '' : d, {dot: false}))
  return tipFiles.filter(f => {
    if (!isKustomizationFile(f)) return false
    const dir = posix.dirname(f)
    return matchers.some((m, i) => (dirs[i] === '.' ? dir === '.' : m(dir)))
  })
}

/**
 * Reads the history of each file and decides which pins to restore. Walks the
 * commits that touched the file, newest first, skipping our own rollbacks;
 * the N-th commit that changed a selected pin is the one reversed. The
 * history is deepened while the walk reaches its shallow end.
 */
export async function findRestores(
  history: FileHistory,
  request: RollbackRequest
): Promise<RollbackPlan> {
  const files = request.paths.length ? rollbackFiles(await history.files(), request.paths) : []
  if (request.paths.length && files.length === 0) {
    throw new UsageError(
      `no kustomization under --path ${request.paths.join(', ')} at ${history.tip.slice(0, 12)}; check --path (directories with a kustomization.yaml, globs allowed)`
    )
  }
  const wanted = (n: string) => request.images.length === 0 || request.images.includes(n)
  const toCommit = request.to ? await resolveTo(history, request.to) : undefined
  const restores: FileRestore[] = []
  const skipped: RollbackPlan['skipped'] = []
  for (const file of files) {
    const tipText = await history.show(history.tip, file)
    if (tipText === undefined) continue
    const current = pinsOf(tipText, file)
    let older: Map<string, Pin>
    let reverses: {sha: string; subject: string}[]
    if (toCommit) {
      const text = await history.show(toCommit, file)
      if (text === undefined) {
        throw new UsageError(
          `${file} did not exist at --to ${request.to}; pick a later commit, or leave ${file} out of --path`
        )
      }
      older = pinsOf(text, file)
      reverses = [{sha: toCommit, subject: `state at ${toCommit.slice(0, 12)}`}]
    } else {
      const found = await walkChanges(history, file, request.steps, {
        read: text => pinsOf(text, file),
        same: (before, after) => !changedPins(before, after ?? new Map(), wanted),
        who: file,
        noun: 'pin',
        fix: 'name the target with --to, or fix forward with set-image'
      })
      older = found.before
      reverses = found.reverses
    }
    const images: ImageRestore[] = []
    for (const [name, pin] of current) {
      if (!wanted(name)) continue
      const old = older.get(name)
      if (!old) {
        skipped.push({
          file,
          name,
          reason: 'not listed in the earlier version (added since); left as is'
        })
        continue
      }
      if (samePin(old, pin)) {
        skipped.push({file, name, reason: `already at ${formatPin(old)}`})
        continue
      }
      images.push({name, from: pin, to: old})
    }
    for (const name of request.images) {
      if (!current.has(name)) skipped.push({file, name, reason: 'not listed in this kustomization'})
    }
    if (images.length) restores.push({file, images, reverses})
  }
  const keys: KeyRestore[] = []
  for (const raw of request.keys ?? []) {
    const key = parseKeyArg(raw)
    const file = key.file
    const tipText = await history.show(history.tip, file)
    if (tipText === undefined)
      throw new UsageError(
        `--key ${raw}: ${file} does not exist at ${history.tip.slice(0, 12)}; check the file path`
      )
    const now = getValueInText(tipText, key, file)
    if (now === undefined)
      throw new UsageError(`--key ${raw}: ${file} has no ${key.keyPath}; check the key path`)
    let to: string | null | undefined
    let reverses: {sha: string; subject: string}[]
    if (toCommit) {
      const text = await history.show(toCommit, file)
      to = text === undefined ? undefined : getValueInText(text, key, file)
      reverses = [{sha: toCommit, subject: `state at ${toCommit.slice(0, 12)}`}]
      if (to === undefined)
        throw new UsageError(
          `--key ${raw}: ${key.keyPath} did not exist at --to ${request.to}; pick a later commit`
        )
    } else {
      const found = await walkChanges(history, file, request.steps, {
        read: text => getValueInText(text, key, file),
        same: (before, after) => before === after,
        who: `--key ${raw}: ${key.keyPath}`,
        noun: 'value',
        fix: 'name the target with --to, or fix forward with set-image --set'
      })
      to = found.before
      reverses = found.reverses
    }
    if (to === now) {
      skipped.push({file, name: key.keyPath, reason: `already ${to ?? 'null'}`})
      continue
    }
    keys.push({file, key, from: now, to, reverses})
  }
  return {restores, skipped, keys}
}

/**
 * The undo of one commit of ours (--rollback-on-failure): for each file it
 * changed, the pins at its parent replace the pins at the commit, for the
 * images that commit changed. The edit later checks that the tip still holds
 * the commit's pins, so a newer fix is never overwritten.
 */
export async function findUndo(
  history: FileHistory,
  commit: string,
  files: string[],
  reason: string,
  /** `<file>:<key.path>` values the commit set (set-image --set), undone like pins. */
  keyArgs: string[] = []
): Promise<RollbackPlan> {
  const sha = await resolveTo(history, commit)
  const parent = await history.parent(sha)
  const restores: FileRestore[] = []
  const skipped: RollbackPlan['skipped'] = []
  for (const file of files) {
    if (!isKustomizationFile(file)) continue
    const after = await pinsAt(history, sha, file)
    const before = parent ? await pinsAt(history, parent, file) : new Map<string, Pin>()
    const images: ImageRestore[] = []
    for (const [name, pin] of after) {
      const old = before.get(name)
      if (!old) {
        if (!samePin({}, pin)) skipped.push({file, name, reason: 'added by the commit; left as is'})
        continue
      }
      if (!samePin(old, pin)) images.push({name, from: pin, to: old})
    }
    if (images.length) restores.push({file, images, reverses: [{sha, subject: reason}]})
  }
  const keys: KeyRestore[] = []
  for (const raw of keyArgs) {
    const key = parseKeyArg(raw)
    const at = async (rev: string | undefined) => {
      const text = rev ? await history.show(rev, key.file) : undefined
      return text === undefined ? undefined : getValueInText(text, key, key.file)
    }
    const after = await at(sha)
    const before = await at(parent)
    if (before === undefined || after === undefined) {
      skipped.push({file: key.file, name: key.keyPath, reason: 'created by the commit; left as is'})
      continue
    }
    if (before !== after)
      keys.push({file: key.file, key, from: after, to: before, reverses: [{sha, subject: reason}]})
  }
  return {restores, skipped, keys}
}

async function resolveTo(history: FileHistory, to: string): Promise<string> {
  for (;;) {
    const sha = await history.resolve(to)
    if (sha) return sha
    if (!(await history.deepen())) {
      throw new UsageError(
        `--to ${to} is not a commit of the config repo branch; pass a commit SHA from its history`
      )
    }
  }
}

/** What a history walk follows in one file: the pins of some images, or one YAML value. */
interface Tracked<V> {
  /** The tracked state in one version of the file; undefined when it is not there. */
  read(text: string): V | undefined
  same(before: V, after: V | undefined): boolean
  /** For messages: who (the file, or `--key a.yaml:x`), what is restored, and the fix. */
  who: string
  noun: string
  fix: string
}

/**
 * Walks the commits that touched `file`, newest first, skipping our own
 * rollbacks, to the `steps`-th that changed the tracked state; answers the
 * state before it. Deepens the history while the walk reaches its shallow end.
 */
async function walkChanges<V>(
  history: FileHistory,
  file: string,
  steps: number,
  t: Tracked<V>
): Promise<{before: V; reverses: {sha: string; subject: string}[]}> {
  const at = async (rev: string) => {
    const text = await history.show(rev, file)
    return text === undefined ? undefined : t.read(text)
  }
  walk: for (;;) {
    const reverses: {sha: string; subject: string}[] = []
    let created: HistoryCommit | undefined
    for (const c of await history.log(file)) {
      if (isRollbackCommit(c.message)) continue
      // No parent: the shallow end of what is fetched so far, or the root commit.
      const parent = c.parents[0]
      if (!parent) {
        if (await history.deepen()) continue walk
        created = c
        break
      }
      const before = await at(parent)
      const after = await at(c.sha)
      if (before !== undefined && t.same(before, after)) continue
      if (before === undefined) {
        created = c
        break
      }
      reverses.push({sha: c.sha, subject: c.subject})
      if (reverses.length === steps) return {before, reverses}
    }
    const n = `${reverses.length} ${t.noun} change${reverses.length === 1 ? '' : 's'}`
    if (created) {
      throw new UsageError(
        `${t.who} was created in ${created.sha.slice(0, 12)} (${inlineValue(created.subject)}) after ${n}: there is no earlier ${t.noun} to restore; ${t.fix}`
      )
    }
    if (!(await history.deepen())) {
      throw new UsageError(
        `${t.who}: its history holds ${n} (rollbacks not counted), fewer than --steps ${steps}; nothing earlier to restore`
      )
    }
  }
}

async function pinsAt(history: FileHistory, rev: string, file: string): Promise<Map<string, Pin>> {
  const text = await history.show(rev, file)
  return text === undefined ? new Map() : pinsOf(text, file)
}

// ---------------------------------------------------------------- the edit

export interface RollbackOutcome extends EditOutcome {
  /** Images the tip no longer holds at the pin the history showed: fixed forward, left alone. */
  movedOn: {file: string; name: string; now: Pin; expected: Pin}[]
}

async function planRollback(root: string, plan: RollbackPlan): Promise<RollbackOutcome> {
  const real = await openRoot(root)
  const edits: FileEdit[] = []
  const movedOn: RollbackOutcome['movedOn'] = []
  // One working text per file: a file may carry both pins and --key values.
  const working = new Map<string, {before: string; after: string}>()
  const textOf = async (file: string, what: string) => {
    let w = working.get(file)
    if (!w) {
      const text = await readUtf8(await resolveInside(real, file, what), file)
      w = {before: text, after: text}
      working.set(file, w)
    }
    return w
  }
  for (const r of plan.restores) {
    const w = await textOf(r.file, '--path')
    const now = pinsOf(w.after, r.file)
    const args: string[] = []
    for (const img of r.images) {
      const pin = now.get(img.name)
      if (pin && samePin(pin, img.to)) continue // already restored (a concurrent rollback)
      if (!pin || !samePin(pin, img.from)) {
        movedOn.push({file: r.file, name: img.name, now: pin ?? {}, expected: img.from})
        continue
      }
      args.push(setImageArg(img.name, img.to))
    }
    if (!args.length) continue
    const result = setImagesInText(w.after, args, r.file)
    for (const c of result.changes)
      edits.push({file: r.file, image: c.image, before: c.before, after: c.after})
    w.after = result.text
  }
  for (const k of plan.keys ?? []) {
    const w = await textOf(k.file, '--key')
    const now = getValueInText(w.after, k.key, k.file)
    if (now === k.to) continue
    if (now !== k.from || k.to === null) {
      movedOn.push({
        file: k.file,
        name: k.key.keyPath,
        now: {newTag: String(now)},
        expected: {newTag: String(k.from)}
      })
      continue
    }
    const result = setValueInText(w.after, {...k.key, value: k.to}, {label: k.file})
    if (result.kind === 'changed') {
      edits.push({file: k.file, key: k.key.keyPath, before: result.before, after: result.after})
      w.after = result.text
    }
  }
  const files = [...working]
    .filter(([, w]) => w.after !== w.before)
    .map(([file, w]) => ({file, before: w.before, after: w.after}))
    .sort((a, b) => (a.file < b.file ? -1 : 1))
  return {changed: files.length > 0, edits, files, diff: unifiedDiffs(files), movedOn}
}

function messageOf(
  plan: RollbackPlan,
  o: RollbackOutcome,
  reason: string | undefined,
  env: Record<string, string | undefined>
): string {
  const changes: MessageChange[] = o.edits.map(e => ({
    file: e.file,
    name: e.image ?? e.key ?? '',
    kind: e.image !== undefined ? 'image' : 'key',
    before: e.before,
    after: e.after
  }))
  const touched = new Set(o.files.map(f => f.file))
  const reversed = new Map<string, string>()
  for (const r of [...plan.restores, ...(plan.keys ?? [])]) {
    if (!touched.has(r.file)) continue
    for (const c of r.reverses) reversed.set(c.sha, c.subject)
  }
  const names = [...new Set(changes.map(c => c.name.split('/').pop()))].join(', ')
  const subject = `Roll back ${names} in ${[...touched].map(f => posix.dirname(f)).join(', ')}`
  const body = [...reversed].map(([sha, s]) => `Reverses ${sha.slice(0, 12)} (${inlineValue(s)})`)
  const lines = [
    inlineValue(subject),
    '',
    changesBlock(changes),
    '',
    ...body,
    ...(reason ? ['', `Reason: ${inlineValue(reason)}`] : []),
    '',
    ...[...reversed.keys()].map(sha => `${ROLLBACK_TRAILER}: ${sha}`),
    trailers(ciSourceFromEnv(env))
  ]
  return (
    lines
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim() + '\n'
  )
}

/** The rollback as an edit any delivery mode can carry. */
export function rollbackEdit(plan: RollbackPlan, reason?: string): Edit<RollbackOutcome> {
  const files = [...new Set([...plan.restores, ...(plan.keys ?? [])].map(r => r.file))]
  const patterns = {dirGlobs: [], files}
  const planOn = (root: string) => planRollback(root, plan)
  const api = materialisedPlanner(patterns, planOn, o =>
    o.files.map(f => ({path: f.file, content: Buffer.from(f.after, 'utf8')}))
  )
  return {
    patterns,
    plan: planOn,
    write: (root, o) => writeFiles(root, o.files),
    planApi: view => api.plan(view),
    writes: o => o.files.map(f => ({path: f.file, before: f.before, after: f.after})),
    prChanges,
    // The trailer is what makes a second run a no-op: it is always there, a --message template only adds text.
    message: (o, ctx) => messageOf(plan, o, reason, ctx.env as Record<string, string | undefined>),
    pr: {paths: files.map(f => posix.dirname(f)), titleTemplate: 'Roll back {{paths}}'}
  }
}

export type {HistoryCommit}
