/**
 * `argo-app`: the declarative twin of argo-upsert. The same Application is
 * written as a manifest into the config repo (for an app-of-apps parent to
 * pick up) through set-image's paths: in place under -C, committed and
 * pushed race-safely with --repo, or proposed as a pull request with
 * --mode pr. Nothing talks to Argo CD.
 */
import {lstat, mkdir, mkdtemp, readFile, realpath, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, isAbsolute, join, relative, resolve, sep} from 'node:path'
import {formatChange, type FieldChange} from '../argocd/application.js'
import {mergeManifest, type ManifestRequest} from '../argocd/manifest.js'
import {
  changesBlock,
  ciSourceFromEnv,
  renderCommitMessage,
  trailers,
  type MessageChange
} from '../core/commit-message.js'
import {unifiedDiff} from '../core/diff.js'
import {OperationError, UsageError} from '../core/errors.js'
import {writeEdits} from '../edit/apply.js'
import {checkRelative, openRoot} from '../edit/workspace.js'
import {openForge, prTransport} from '../forge/open-forge.js'
import {sourceRepoFromEnv, type PrChange} from '../forge/pr-body.js'
import {runPrLifecycle, type PrLifecycleResult} from '../forge/pr-lifecycle.js'
import {
  PR_OPTIONS,
  PR_OUTPUTS,
  prDecorations,
  readMode,
  readPrSettings,
  type SetImagePrSettings
} from '../forge/set-image-pr.js'
import {
  REMOTE_OPTIONS,
  REMOTE_OUTPUTS,
  remoteJson,
  remoteSettings,
  remoteSummary,
  type RemoteReport,
  type RemoteSettings
} from '../git/remote-set-image.js'
import type {Planner} from '../git/remote-write.js'
import type {Platform} from '../platform/port.js'
import {APPLICATION_OPTIONS, readAppSettings} from './argo-upsert.js'
import {
  editText,
  prLifecycleJson,
  prLifecycleOutputs,
  prLifecycleText,
  remoteReport
} from './render-edits.js'
import {defineCommand} from './types.js'
import {transportReport, transportWrite} from '../transport/run.js'
import {TRANSPORT_OPTIONS, TRANSPORT_OUTPUTS} from '../transport/select.js'
import {TransportUnavailable, type ApiPlanner} from '../transport/transport.js'

export const DEFAULT_MANIFEST_DIR = 'argocd/apps'

const FINALIZER =
  /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?(\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/

export interface ArgoAppSettings {
  request: ManifestRequest
  /** Root-relative posix path of the manifest. */
  manifest: string
  root: string
  dryRun: boolean
  pr?: SetImagePrSettings
  remote?: RemoteSettings
}

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

export interface ArgoAppResult {
  outcome: ManifestOutcome
  dryRun: boolean
  remote?: RemoteReport
  pr?: PrLifecycleResult
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

async function readUtf8(real: string, file: string): Promise<string> {
  const buf = await readFile(real).catch((e: Error) => {
    throw new OperationError(`cannot read ${file}: ${e.message}`)
  })
  const text = buf.toString('utf8')
  if (!Buffer.from(text, 'utf8').equals(buf)) {
    throw new UsageError(`${file} is not valid UTF-8; convert it to UTF-8 and run again`)
  }
  return text
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

export async function writeManifest(root: string, outcome: ManifestOutcome): Promise<void> {
  const realRoot = await openRoot(root)
  for (const f of outcome.files) {
    const at = await locate(realRoot, f.file)
    if (at.exists) {
      // Existing files go through set-image's writer: atomic rename, mode and symlinks kept.
      await writeEdits(root, {changed: true, edits: [], files: [f], diff: ''})
      continue
    }
    try {
      await mkdir(dirname(at.real), {recursive: true})
      await writeFile(at.real, f.after, {flag: 'wx', mode: 0o644})
    } catch (e) {
      throw new OperationError(
        `cannot create ${f.file}: ${(e as Error).message}; check the directory permissions`
      )
    }
  }
}

/** The edit remoteWrite applies, and re-applies from scratch on a new tip after a lost race. */
export function manifestPlanner(
  manifest: string,
  request: ManifestRequest
): Planner<ManifestOutcome> {
  return {
    patterns: {dirGlobs: [], files: [manifest]},
    plan: root => planManifest(root, manifest, request),
    write: writeManifest
  }
}

/**
 * The same edit on a read-only view of a remote commit (the API transport):
 * the manifest and what lies on its path are placed in a scratch directory
 * and planManifest runs there, so the merge and its refusals are the local
 * ones. Symlinks on the path are not followed over the API.
 */
export function manifestApiPlanner(
  manifest: string,
  request: ManifestRequest
): ApiPlanner<ManifestOutcome> {
  return {
    async plan(view) {
      // One listing of the whole tree also lets the commit refuse writes below a symlinked directory.
      const entries = new Map((await view.listTree()).map(e => [e.path, e]))
      const dir = await mkdtemp(join(tmpdir(), 'gitops-deploy-argo-app-'))
      try {
        const parts = manifest.split('/')
        for (let i = 1; i <= parts.length; i++) {
          const path = parts.slice(0, i).join('/')
          const entry = entries.get(path)
          if (!entry) break
          if (entry.kind === 'link') {
            throw new TransportUnavailable(
              `${path} is a symlink; the API transport does not follow symlinks (the git transport does, confined to the repository)`
            )
          }
          if (entry.kind === 'dir') {
            await mkdir(join(dir, path), {recursive: true})
            continue
          }
          // A file (or submodule) where the path goes on: planManifest names the problem.
          const file = entry.kind === 'file' ? await view.read(path, entry) : undefined
          await writeFile(join(dir, path), file?.kind === 'file' ? file.content : '')
          break
        }
        const outcome = await planManifest(dir, manifest, request)
        return {
          outcome,
          writes: outcome.files.map(f => ({path: f.file, content: Buffer.from(f.after, 'utf8')}))
        }
      } finally {
        await rm(dir, {recursive: true, force: true})
      }
    }
  }
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
  remote: RemoteSettings,
  outcome: ManifestOutcome,
  manifest: string,
  branch: string
): string {
  const source = ciSourceFromEnv(remote.env)
  const input = {changes: messageChanges(outcome), paths: [manifest], branch, source}
  if (remote.message !== undefined && remote.message.trim() !== '') {
    // {{subject}} is this command's subject; a sentinel keeps `{{` in values from reading as placeholders.
    const mark = '\u0000subject\u0000'
    const template = remote.message.replace(/\{\{\s*subject\s*\}\}/g, mark)
    return renderCommitMessage(template, input).split(mark).join(subject(outcome))
  }
  return (
    [subject(outcome), changesBlock(input.changes), trailers(source)].filter(Boolean).join('\n\n') +
    '\n'
  )
}

function subject(o: ManifestOutcome): string {
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

function fence(diff: string): string {
  const ticks = '`'.repeat(Math.max(3, ...[...diff.matchAll(/`{3,}/g)].map(m => m[0].length + 1)))
  return `${ticks}diff\n${diff}${diff.endsWith('\n') ? '' : '\n'}${ticks}`
}

function headline(r: ArgoAppResult): string {
  const o = r.outcome
  if (!o.changed) return `Application ${o.app} in ${o.manifest} is up to date; nothing to change`
  const verb = o.operation === 'created' ? 'created' : 'updated'
  return r.dryRun
    ? `dry run: ${o.manifest} would be ${verb} (Application ${o.app}), nothing written`
    : `${o.manifest}: Application ${o.app} ${verb}`
}

// ------------------------------------------------------------ the command ---

const OWN_OPTIONS = APPLICATION_OPTIONS.filter(o => o.name !== 'repo')

export const argoAppCommand = defineCommand<ArgoAppSettings, ArgoAppResult>({
  name: 'argo-app',
  description:
    'Write an Argo CD Application manifest into the config repo (app-of-apps), byte-preserving, by push or pull request',
  options: [
    {
      name: 'root',
      short: 'C',
      type: 'string',
      cliOnly: true,
      default: '.',
      description: 'without --repo: the checkout the manifest is written in'
    },
    {
      name: 'manifest',
      type: 'string',
      description: `Application manifest path in the config repo (default: ${DEFAULT_MANIFEST_DIR}/<app>.yaml)`
    },
    ...OWN_OPTIONS,
    {
      name: 'source-repo',
      type: 'string',
      description:
        'spec.source.repoURL: the repo Argo CD reads --path from (default: --repo, the config repo)'
    },
    {
      name: 'finalizer',
      type: 'list',
      description:
        'metadata.finalizers entry to ensure, e.g. resources-finalizer.argocd.argoproj.io (others are kept)'
    },
    {name: 'dry-run', type: 'boolean', description: 'print the diff and write nothing'},
    ...PR_OPTIONS,
    ...REMOTE_OPTIONS,
    ...TRANSPORT_OPTIONS
  ],
  outputSpecs: [
    {
      name: 'changed',
      description: "'true' when the manifest changed (or would, under dry-run), else 'false'"
    },
    {
      name: 'operation',
      description: 'What happened to the manifest: created, updated or unchanged'
    },
    {name: 'manifest', description: 'Root-relative path of the Application manifest'},
    ...REMOTE_OUTPUTS.filter(o => o.name !== 'branch'),
    {
      name: 'branch',
      description: 'with --repo: the branch committed to (--mode pr: the PR head branch)'
    },
    ...PR_OUTPUTS,
    ...TRANSPORT_OUTPUTS
  ],

  settings(input, env, platform) {
    const pr = readMode(input) === 'pr' ? readPrSettings(input, env) : undefined
    const remote = pr ? undefined : remoteSettings(input, env, process.cwd())
    const configRepo = input.string('repo')?.trim() || undefined
    const app = readAppSettings(input, platform, () => {
      const given = input.string('source-repo')?.trim()
      if (given) return given
      if (!configRepo) {
        throw new UsageError(
          '--source-repo is required without --repo: pass the URL Argo CD clones the manifests from, e.g. --source-repo https://github.com/org/deploy.git'
        )
      }
      if (!/^(https?|ssh|git):\/\/|^[\w.-]+@[\w.-]+:/.test(configRepo)) {
        throw new UsageError(
          `--repo ${configRepo} is not a URL Argo CD can clone, so it cannot be the Application's repoURL; pass --source-repo <url>`
        )
      }
      return configRepo
    })
    const rawManifest =
      input.string('manifest')?.trim() || `${DEFAULT_MANIFEST_DIR}/${app.name}.yaml`
    const manifest = checkRelative(rawManifest, '--manifest')
    if (!/\.ya?ml$/.test(manifest)) {
      throw new UsageError(
        `--manifest ${JSON.stringify(rawManifest)} must end in .yaml or .yml (what a parent app's directory source reads); e.g. ${DEFAULT_MANIFEST_DIR}/${app.name}.yaml`
      )
    }
    const finalizers: string[] = []
    for (const f of input.list('finalizer').flatMap(v => v.split(/[,\n]/))) {
      const name = f.trim()
      if (!name) continue
      if (!FINALIZER.test(name) || name.length > 253) {
        throw new UsageError(
          `--finalizer '${name}' is not a finalizer name; e.g. --finalizer resources-finalizer.argocd.argoproj.io`
        )
      }
      if (!finalizers.includes(name)) finalizers.push(name)
    }
    return {
      request: {app, finalizers},
      manifest,
      root: resolve(input.string('root') ?? '.'),
      dryRun: input.boolean('dry-run') ?? false,
      ...(pr ? {pr} : {}),
      ...(remote ? {remote} : {})
    }
  },

  async run(s, platform) {
    if (s.pr) return runPr(s, s.pr, platform)
    if (s.remote) return runRemote(s, s.remote, platform)
    const outcome = await planManifest(s.root, s.manifest, s.request)
    if (!s.dryRun && outcome.changed) await writeManifest(s.root, outcome)
    return {outcome, dryRun: s.dryRun}
  },

  outputs(r) {
    const l = r.pr
    return {
      changed: String(r.outcome.changed),
      operation: r.outcome.operation,
      manifest: r.outcome.manifest,
      commit: r.remote?.commit ?? (l && l.operation !== 'no-op' ? l.commit : ''),
      pushed: String(r.remote?.pushed ?? (l && l.operation !== 'no-op' ? l.pushed : false)),
      attempts: r.remote ? String(r.remote.attempts) : '',
      branch: r.remote?.branch ?? l?.branch ?? '',
      'pr-number': '',
      'pr-url': '',
      'pr-operation': '',
      transport: '',
      verified: '',
      ...(l ? prLifecycleOutputs(l) : {}),
      ...(r.remote?.transport
        ? {
            transport: r.remote.transport,
            verified: r.remote.verified === undefined ? '' : String(r.remote.verified)
          }
        : {})
    }
  },

  json: r => ({
    changed: r.outcome.changed,
    operation: r.outcome.operation,
    manifest: r.outcome.manifest,
    app: r.outcome.app,
    changes: r.outcome.changes,
    diff: r.outcome.diff,
    dryRun: r.dryRun,
    ...remoteJson(r.remote),
    ...(r.pr ? prLifecycleJson(r.pr) : {})
  }),

  summary(r) {
    const o = r.outcome
    const lines = [
      `### argo-app: ${o.app} ${r.dryRun && o.changed ? `would be ${o.operation}` : o.operation}`,
      ''
    ]
    lines.push(`**Manifest:** \`${o.manifest}\``, '')
    if (o.changes.length) {
      lines.push('Fields changed:', '')
      for (const c of o.changes) lines.push(`- \`${formatChange(c).replace(/`/g, "'")}\``)
      lines.push('')
    }
    if (o.diff) lines.push(fence(o.diff), '')
    if (r.dryRun && o.changed) lines.push('Dry run: nothing was written.', '')
    if (r.pr) lines.push(prLifecycleText(r.pr), '')
    return lines.join('\n') + (r.remote ? remoteSummary(r.remote) : '')
  },

  text(r) {
    const lines = [headline(r), ...r.outcome.changes.map(c => `  ${formatChange(c)}`)]
    return editText(lines, {...r, changed: r.outcome.changed, diff: r.outcome.diff})
  },

  exitCode: r => (r.remote?.rejected || r.remote?.verificationFailure ? 1 : 0)
})

async function runRemote(
  s: ArgoAppSettings,
  remote: RemoteSettings,
  platform: Platform
): Promise<ArgoAppResult> {
  const result = await transportWrite({
    transport: remote.transport,
    repo: remote.repo,
    cwd: remote.cwd,
    branch: remote.branch,
    provider: remote.provider,
    apiUrl: remote.apiUrl,
    env: remote.env,
    gitPlanner: manifestPlanner(s.manifest, s.request),
    apiPlanner: manifestApiPlanner(s.manifest, s.request),
    message: (outcome, branch) => commitMessage(remote, outcome, s.manifest, branch),
    author: remote.author,
    authorGiven: remote.authorGiven,
    maxAttempts: remote.maxAttempts,
    dryRun: s.dryRun,
    platform,
    backoff: remote.backoff,
    apiMsPerSecond: remote.apiMsPerSecond,
    onApi: remote.onApi
  })
  return {
    outcome: result.outcome,
    dryRun: s.dryRun,
    remote: remoteReport(result, transportReport(result))
  }
}

async function runPr(
  s: ArgoAppSettings,
  pr: SetImagePrSettings,
  platform: Platform
): Promise<ArgoAppResult> {
  const {forge, repoUrl, gitConfig} = openForge(pr, platform)
  const name = s.request.app.name
  let outcome: ManifestOutcome | undefined
  const apiPlanner = manifestApiPlanner(s.manifest, s.request)
  const lifecycle = await runPrLifecycle({
    repoUrl,
    gitConfig,
    forge,
    ...prTransport(
      {...pr, transport: pr.transport ?? {choice: 'git', requireVerified: false}},
      repoUrl,
      platform,
      async view => {
        const planned = await apiPlanner.plan(view)
        outcome = planned.outcome
        return {
          changes: outcome.changed ? prChanges(outcome) : [],
          writes: planned.writes
        }
      }
    ),
    base: pr.base,
    // One PR per Application, whatever this run changes in it.
    branchTemplate: pr.branchTemplate || `gitops-deploy/argo-app/${name}`,
    titleTemplate: pr.title || `Update Argo CD Application ${name} ({{path}})`,
    bodyTemplate: pr.body,
    paths: [s.manifest],
    ...prDecorations(pr),
    source: sourceRepoFromEnv(pr.env),
    identity: pr.author,
    log: platform,
    redactor: platform.redactor,
    edit: async worktree => {
      outcome = await planManifest(worktree, s.manifest, s.request)
      if (!outcome.changed) return []
      await writeManifest(worktree, outcome)
      return prChanges(outcome)
    }
  })
  return {outcome: outcome!, dryRun: false, pr: lifecycle}
}
