/**
 * The argo-app edit: the Application manifest merged into the config repo,
 * byte-preserving (argocd/manifest.ts), with no knowledge of how it lands.
 */
import {lstat, realpath} from 'node:fs/promises'
import {isAbsolute, join, relative, sep} from 'node:path'
import {formatChange, type FieldChange} from '../argocd/application.js'
import {mergeManifest, type ManifestRequest} from '../argocd/manifest.js'
import {
  changesBlock,
  ciSourceFromEnv,
  inlineValue,
  renderCommitMessage,
  trailers,
  type MessageChange
} from '../core/commit-message.js'
import {unifiedDiff} from '../core/diff.js'
import {OperationError, UsageError} from '../core/errors.js'
import type {PrChange} from '../forge/pr-body.js'
import type {Env} from '../platform/inputs.js'
import type {Edit} from './edit.js'
import {materialisedPlanner} from './materialise.js'
import {openRoot, readUtf8, writeFiles} from './workspace.js'

export interface ManifestFile {
  file: string
  before: string
  after: string
  /** The file did not exist before. */
  created: boolean
}

export interface ManifestOutcome {
  changed: boolean
  operation: 'created' | 'updated' | 'unchanged'
  manifest: string
  app: string
  files: ManifestFile[]
  changes: FieldChange[]
  diff: string
}

// ------------------------------------------------------------- the files ---

interface Located {
  /** Real path of the file, or where it will be created. */
  real: string
  exists: boolean
}

/**
 * Where the manifest lives under the root. The nearest existing ancestor is
 * resolved through symlinks and must stay inside the root, so a link in the
 * config repo cannot make us write elsewhere.
 */
async function locate(root: string, rel: string): Promise<Located> {
  const parts = rel.split('/')
  let real = root
  for (let i = 0; i < parts.length; i++) {
    const next = join(real, parts[i])
    let stat
    try {
      stat = await lstat(next)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new OperationError(`cannot read ${rel}: ${(e as Error).message}`)
      }
      return {real: join(real, ...parts.slice(i)), exists: false}
    }
    real = stat.isSymbolicLink() ? await realpath(next) : next
    const r = relative(root, real)
    if (r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r)) {
      throw new UsageError(
        `--manifest ${JSON.stringify(rel)} leads outside the root through a symlink; point it at a file inside the config repo`
      )
    }
    const isDir = (await lstat(real)).isDirectory()
    if (i < parts.length - 1 && !isDir) {
      throw new UsageError(
        `--manifest ${JSON.stringify(rel)}: ${parts.slice(0, i + 1).join('/')} is a file, not a directory; choose another path`
      )
    }
    if (i === parts.length - 1 && isDir) {
      throw new UsageError(
        `--manifest ${JSON.stringify(rel)} is a directory; name the YAML file, e.g. ${rel}/app.yaml`
      )
    }
  }
  return {real, exists: true}
}

/** Reads and merges; writes nothing. Pure function of the checkout, as remoteWrite needs. */
export async function planManifest(
  root: string,
  manifest: string,
  request: ManifestRequest
): Promise<ManifestOutcome> {
  const realRoot = await openRoot(root)
  const at = await locate(realRoot, manifest)
  const before = at.exists ? await readUtf8(at.real, manifest) : undefined
  const merged = mergeManifest(before, request, manifest)
  const changed = merged.kind !== 'unchanged'
  const files = changed
    ? [{file: manifest, before: before ?? '', after: merged.text, created: before === undefined}]
    : []
  return {
    changed,
    operation: merged.kind,
    manifest,
    app: request.app.name,
    files,
    changes: merged.changes,
    diff: files.map(f => unifiedDiff(f.file, f.before, f.after)).join('')
  }
}

/** Writes the manifest through the one workspace writer (atomic, mode kept, created if new). */
export async function writeManifest(root: string, outcome: ManifestOutcome): Promise<void> {
  await writeFiles(root, outcome.files)
}

// ----------------------------------------------------------- the reports ---

function show(v: unknown): string | null {
  if (v === undefined) return null
  return typeof v === 'string' ? v : JSON.stringify(v)
}

function messageChanges(o: ManifestOutcome): MessageChange[] {
  if (o.operation === 'created') {
    return [
      {file: o.manifest, name: `Application ${o.app}`, kind: 'key', before: null, after: 'created'}
    ]
  }
  return o.changes.map(c => ({
    file: o.manifest,
    name: c.path,
    kind: 'key',
    before: show(c.before),
    after: show(c.after)
  }))
}

function commitMessage(
  template: string | undefined,
  env: Env,
  outcome: ManifestOutcome,
  manifest: string,
  branch: string
): string {
  const source = ciSourceFromEnv(env)
  const input = {changes: messageChanges(outcome), paths: [manifest], branch, source}
  if (template !== undefined && template.trim() !== '') {
    // {{subject}} is this command's subject; a sentinel keeps `{{` in values from reading as placeholders.
    const mark = '\u0000subject\u0000'
    const marked = template.replace(/\{\{\s*subject\s*\}\}/g, mark)
    return renderCommitMessage(marked, input).split(mark).join(subject(outcome))
  }
  return (
    [subject(outcome), changesBlock(input.changes), trailers(source)].filter(Boolean).join('\n\n') +
    '\n'
  )
}

function subject(o: ManifestOutcome): string {
  return inlineValue(rawSubject(o))
}

function rawSubject(o: ManifestOutcome): string {
  if (o.operation === 'created') return `Add Argo CD Application ${o.app} (${o.manifest})`
  const first = o.changes[0]
  if (o.changes.length === 1 && first) {
    return `Update Argo CD Application ${o.app}: ${formatChange(first)}`
  }
  return `Update Argo CD Application ${o.app} (${o.changes.length} fields)`
}

function prChanges(o: ManifestOutcome): PrChange[] {
  return messageChanges(o).map(c => ({
    file: c.file,
    key: c.name,
    before: c.before ?? '',
    after: c.after ?? '(removed)'
  }))
}

/**
 * argo-app as an edit any delivery mode can carry. Its PR is one per
 * Application, whatever a run changes in it.
 */
export function argoAppEdit(manifest: string, request: ManifestRequest): Edit<ManifestOutcome> {
  const patterns = {dirGlobs: [], files: [manifest]}
  const plan = (root: string) => planManifest(root, manifest, request)
  const api = materialisedPlanner(patterns, plan, o =>
    o.files.map(f => ({path: f.file, content: Buffer.from(f.after, 'utf8')}))
  )
  const name = request.app.name
  return {
    patterns,
    plan,
    write: writeManifest,
    planApi: view => api.plan(view),
    writes: o =>
      o.files.map(f => ({path: f.file, before: f.created ? null : f.before, after: f.after})),
    prChanges: o => (o.changed ? prChanges(o) : []),
    message: (o, ctx) => commitMessage(ctx.template, ctx.env, o, manifest, ctx.branch),
    pr: {
      paths: [manifest],
      branchTemplate: `gitops-deploy/argo-app/${name}`,
      titleTemplate: `Update Argo CD Application ${name} ({{path}})`
    }
  }
}

/** The edit as the push loop's planner (tests drive remoteWrite with it directly). */
export const manifestPlanner = argoAppEdit
