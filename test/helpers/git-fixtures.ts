/**
 * Real git repositories for tests and benchmarks, built without a work tree.
 *
 *   const repo = await makeBareRepo({'apps/web/kustomization.yaml': '...'})
 *   repo.url                       // file:///tmp/.../config.git, for --repo
 *   await repo.commit({'a.txt': 'x', 'old.txt': null}, 'msg')  // null deletes
 *   await repo.readFile('apps/web/kustomization.yaml')
 *   await repo.log()               // newest first: sha, subject, body, author
 *   await repo.cleanup()
 *
 * Commits go through `git fast-import`, so a tree of thousands of files or a
 * history of thousands of commits costs one process. The bare repo allows
 * partial clones (`uploadpack.allowFilter`) like GitHub and GitLab do, and
 * can be served over smart HTTP by git-http-server.ts. Every git process goes
 * through the exec funnel (src/git/exec.ts).
 */
import {mkdtemp, readdir, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, relative, sep} from 'node:path'
import {pathToFileURL} from 'node:url'
import {execGit} from '../../src/git/exec.js'

export type FileMap = Record<string, string | null>

export interface CommitLog {
  sha: string
  subject: string
  body: string
  author: string
  parents: string[]
}

export interface BareRepo {
  /** Path of the bare repository. */
  dir: string
  /** file:// URL of it. */
  url: string
  branch: string
  git(args: string[], input?: string): Promise<string>
  /** Commits `files` (null = delete) on top of `branch`; returns the new sha. */
  commit(files: FileMap, message: string, branch?: string): Promise<string>
  head(branch?: string): Promise<string>
  readFile(path: string, ref?: string): Promise<string>
  listFiles(ref?: string): Promise<string[]>
  log(ref?: string, max?: number): Promise<CommitLog[]>
  /** `git fsck --strict`: throws if the object store is damaged. */
  fsck(): Promise<void>
  cleanup(): Promise<void>
}

export const FIXTURE_AUTHOR = 'Fixture <fixture@example.com>'

export async function tempDir(prefix = 'gitops-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

export async function git(cwd: string, args: string[], input?: string): Promise<string> {
  return (await execGit(args, {cwd, input})).stdout
}

/** One fast-import `commit` command; `from` continues an existing branch. */
export function fastImportCommit(options: {
  ref: string
  files: FileMap
  message: string
  from?: string
  time?: number
  author?: string
}): string {
  const time = options.time ?? 1_700_000_000
  const who = `${options.author ?? FIXTURE_AUTHOR} ${time} +0000`
  const msg = Buffer.from(options.message)
  let out = `commit ${options.ref}\nauthor ${who}\ncommitter ${who}\ndata ${msg.length}\n${options.message}\n`
  if (options.from) out += `from ${options.from}\n`
  for (const [path, content] of Object.entries(options.files)) {
    if (content === null) out += `D ${path}\n`
    else out += `M 100644 inline ${path}\ndata ${Buffer.byteLength(content)}\n${content}\n`
  }
  return out
}

/** Runs a fast-import stream into `dir` (a bare repo). */
export async function fastImport(dir: string, stream: string): Promise<void> {
  await execGit(['fast-import', '--quiet', '--date-format=raw'], {cwd: dir, input: stream})
}

/** The example config repo shipped with the project: the fixture most end-to-end tests seed from. */
export const EXAMPLE_CONFIG_REPO = join(import.meta.dirname, '..', '..', 'examples', 'config-repo')

/** Every file of examples/config-repo, as a FileMap. */
export function exampleFiles(): Promise<FileMap> {
  return filesFromDir(EXAMPLE_CONFIG_REPO)
}

/** Every file under `dir` as a FileMap (e.g. to seed a bare repo from examples/config-repo). */
export async function filesFromDir(dir: string): Promise<FileMap> {
  const files: FileMap = {}
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, {withFileTypes: true})) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else if (e.isFile()) files[relative(dir, p).split(sep).join('/')] = await readFile(p, 'utf8')
    }
  }
  await walk(dir)
  return files
}

/** Initialises an empty bare repository configured like a hosted one. */
export async function initBare(dir: string, branch = 'main'): Promise<void> {
  await execGit(['init', '--quiet', '--bare', `--initial-branch=${branch}`, dir], {cwd: tmpdir()})
  for (const [k, v] of [
    ['uploadpack.allowFilter', 'true'],
    ['uploadpack.allowAnySHA1InWant', 'true'],
    ['http.receivepack', 'true'],
    ['receive.denyNonFastForwards', 'true']
  ]) {
    await execGit(['config', k, v], {cwd: dir})
  }
}

/** A bare repo whose `branch` holds `files` in one initial commit (none: empty repo). */
export async function makeBareRepo(
  files: FileMap = {},
  options: {branch?: string; name?: string; parent?: string} = {}
): Promise<BareRepo> {
  const branch = options.branch ?? 'main'
  const parent = options.parent ?? (await tempDir())
  const dir = join(parent, options.name ?? 'config.git')
  await initBare(dir, branch)
  const repo = bareRepo(dir, branch, options.parent ? undefined : parent)
  if (Object.keys(files).length > 0) await repo.commit(files, 'Initial config')
  return repo
}

export interface ProjectRepo extends BareRepo {
  /** The temp folder holding `acme/config.git`: the root to serve over smart HTTP. */
  root: string
  dispose(): Promise<void>
}

/**
 * A bare repo at `<tmp>/acme/config.git`, so its file:// URL (and its HTTP URL
 * when `root` is served) names the forge project acme/config. `allowForcePush`
 * lets PR branches be rewritten like on an unprotected hosted repo.
 */
export async function projectRepo(
  files: FileMap,
  options: {prefix?: string; allowForcePush?: boolean} = {}
): Promise<ProjectRepo> {
  const root = await tempDir(options.prefix)
  const repo = await makeBareRepo(files, {parent: join(root, 'acme'), name: 'config.git'})
  if (options.allowForcePush) await repo.git(['config', 'receive.denyNonFastForwards', 'false'])
  return Object.assign(repo, {root, dispose: () => rm(root, {recursive: true, force: true})})
}

/** Wraps an existing bare repository. */
export function bareRepo(dir: string, branch = 'main', ownedTemp?: string): BareRepo {
  const run = (args: string[], input?: string) => git(dir, args, input)
  let clock = 1_700_000_000
  const repo: BareRepo = {
    dir,
    url: pathToFileURL(dir).href,
    branch,
    git: run,
    async commit(files, message, onBranch = branch) {
      const ref = `refs/heads/${onBranch}`
      const from = await run(['rev-parse', '--verify', '--quiet', ref]).catch(() => '')
      clock += 60
      await fastImport(
        dir,
        fastImportCommit({ref, files, message, from: from.trim() || undefined, time: clock})
      )
      return (await run(['rev-parse', ref])).trim()
    },
    async head(onBranch = branch) {
      return (await run(['rev-parse', `refs/heads/${onBranch}`])).trim()
    },
    async readFile(path, ref = branch) {
      return run(['show', `${ref}:${path}`])
    },
    async listFiles(ref = branch) {
      return (await run(['ls-tree', '-r', '-z', '--name-only', ref])).split('\0').filter(Boolean)
    },
    async log(ref = branch, max = 100) {
      const out = await run([
        'log',
        `-${max}`,
        '-z',
        '--format=%H%x1f%P%x1f%an <%ae>%x1f%s%x1f%b',
        ref
      ])
      return out
        .split('\0')
        .filter(Boolean)
        .map(rec => {
          const [sha, parents, author, subject, body] = rec.split('\x1f')
          return {
            sha,
            parents: parents.split(' ').filter(Boolean),
            author,
            subject,
            body: body.trim()
          }
        })
    },
    async fsck() {
      await run(['fsck', '--strict', '--no-progress'])
    },
    async cleanup() {
      await rm(ownedTemp ?? dir, {recursive: true, force: true})
    }
  }
  return repo
}

/** A kustomization with one `images:` entry, in the layout kustomize writes. */
export function kustomization(image: string, tag: string, resources = ['../../base']): string {
  return [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'resources:',
    ...resources.map(r => `  - ${r}`),
    'images:',
    `  - name: ${image}`,
    `    newTag: ${tag} # bumped by CI`,
    ''
  ].join('\n')
}

/** `count` apps, each with a base and the given overlays, all at `tag`. */
export function appsTree(
  count: number,
  options: {overlays?: string[]; tag?: string; prefix?: string; registry?: string} = {}
): FileMap {
  const overlays = options.overlays ?? ['dev', 'staging', 'prod']
  const prefix = options.prefix ?? 'apps'
  const registry = options.registry ?? 'ghcr.io/acme'
  const files: FileMap = {'README.md': '# config repo\n'}
  for (let i = 0; i < count; i++) {
    const app = appName(i)
    const image = `${registry}/${app}`
    files[`${prefix}/${app}/base/kustomization.yaml`] =
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n'
    files[`${prefix}/${app}/base/deployment.yaml`] = deployment(app, `${image}:latest`)
    for (const env of overlays) {
      files[`${prefix}/${app}/overlays/${env}/kustomization.yaml`] = kustomization(
        image,
        options.tag ?? '1.0.0'
      )
    }
  }
  return files
}

export function appName(i: number): string {
  return `app-${String(i).padStart(4, '0')}`
}

/** A Deployment whose one container runs `image` (a full reference). */
export function deployment(app: string, image: string): string {
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${app}`,
    'spec:',
    '  selector:',
    `    matchLabels: {app: ${app}}`,
    '  template:',
    `    metadata: {labels: {app: ${app}}}`,
    '    spec:',
    '      containers:',
    `        - name: ${app}`,
    `          image: ${image}`,
    ''
  ].join('\n')
}
