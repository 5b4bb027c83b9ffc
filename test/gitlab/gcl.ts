/**
 * A scratch GitLab project for gitlab-ci-local: the component templates plus
 * a consumer `.gitlab-ci.yml`, committed, with an https `origin` of the
 * component project, so `component: $CI_SERVER_FQDN/acme/gitops-deploy/<name>@$CI_COMMIT_SHA`
 * resolves to the templates on disk (gitlab-ci-local treats a component as
 * local when its project path is origin's and its ref is HEAD).
 */
import {execFile} from 'node:child_process'
import {cp, mkdtemp, readFile, rm, writeFile, mkdir} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {execGit} from '../../src/git/exec.js'

export const REPO_ROOT = resolve(import.meta.dirname, '../..')
export const TEMPLATES = join(REPO_ROOT, 'gitlab/templates')
export const COMPONENT_PROJECT = 'acme/gitops-deploy'
/**
 * gitlab-ci-local takes about a second here, but on a loaded 2-core CI machine (the pack and
 * concurrency tests run alongside) a run has taken over a minute: these files give each test
 * GCL_TEST_TIMEOUT_MS, and a run that still hangs is killed a little earlier so the failure
 * shows its output instead of a bare timeout.
 */
export const GCL_TEST_TIMEOUT_MS = 240_000
export const GCL_TIMEOUT_MS = 220_000
const GCL = join(REPO_ROOT, 'node_modules/gitlab-ci-local/dist/index.js')

/** gitlab-ci-local needs Node >= 22 (Set.prototype.union); vitest runs on the node@24 devDependency. */
export function nodeForGcl(): string {
  const major = Number(process.versions.node.split('.')[0])
  return major >= 22 ? process.execPath : join(REPO_ROOT, 'node_modules/.bin/node')
}

export interface GclResult {
  code: number
  stdout: string
  stderr: string
}

export interface ScratchProject {
  dir: string
  gcl(args: string[], env?: Record<string, string>): Promise<GclResult>
  cleanup(): Promise<void>
}

const IDENTITY = {'user.name': 'Test', 'user.email': 'test@example.com', 'commit.gpgsign': 'false'}

export async function scratchProject(
  consumer: string,
  extraFiles: Record<string, string> = {}
): Promise<ScratchProject> {
  const dir = await mkdtemp(join(tmpdir(), 'gitops-gcl-'))
  const git = (args: string[]) => execGit(args, {cwd: dir, config: IDENTITY})
  await git(['init', '--quiet', '--initial-branch=main'])
  await git(['remote', 'add', 'origin', `https://gitlab.example.com/${COMPONENT_PROJECT}.git`])
  await cp(TEMPLATES, join(dir, 'templates'), {recursive: true})
  await writeFile(join(dir, '.gitlab-ci.yml'), consumer)
  for (const [path, content] of Object.entries(extraFiles)) {
    await mkdir(dirname(join(dir, path)), {recursive: true})
    await writeFile(join(dir, path), content)
  }
  await git(['add', '-A'])
  await git(['commit', '--quiet', '-m', 'consumer pipeline'])
  // gitlab-ci-local looks up origin's default branch (rules:changes, CI_DEFAULT_BRANCH).
  await git(['update-ref', 'refs/remotes/origin/main', 'HEAD'])
  await git(['symbolic-ref', 'refs/remotes/origin/HEAD', 'refs/remotes/origin/main'])
  return {
    dir,
    gcl: (args, env = {}) => runGcl(dir, args, env),
    cleanup: () => rm(dir, {recursive: true, force: true})
  }
}

function runGcl(cwd: string, args: string[], env: Record<string, string>): Promise<GclResult> {
  const node = nodeForGcl()
  return new Promise(done => {
    execFile(
      node,
      [GCL, ...args],
      {
        cwd,
        // Jobs run in the host shell: `node` on PATH must be the same Node 24.
        env: {...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ''}`, NO_COLOR: '1', FORCE_COLOR: '0', ...env},
        maxBuffer: 16 * 1024 * 1024,
        timeout: GCL_TIMEOUT_MS, killSignal: 'SIGKILL'
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
        done({code, stdout: stdout.toString(), stderr: stderr.toString()})
      }
    )
  })
}

/** Strips what changes between runs (temp dirs, SHAs, timings, colours) from gitlab-ci-local output. */
export function normalise(text: string, dir?: string): string {
  let out = text.replace(/\x1b\[[0-9;]*m/g, '')
  if (dir) out = out.split(dir).join('<project>')
  return out
    .replace(/\b[0-9a-f]{40}\b/g, '<sha>')
    .replace(/\b\d+(\.\d+)? ?ms\b/g, '<ms>')
    .replace(/\/tmp\/[\w.-]+/g, '<tmp>')
}

/** Reads a golden file, or (re)writes it when UPDATE_GOLDEN=1. */
export async function golden(path: string, actual: string): Promise<string> {
  if (process.env.UPDATE_GOLDEN === '1') {
    await mkdir(dirname(path), {recursive: true})
    await writeFile(path, actual)
    return actual
  }
  try {
    return await readFile(path, 'utf8')
  } catch {
    throw new Error(`golden file ${path} is missing; run UPDATE_GOLDEN=1 npx vitest run test/gitlab`)
  }
}
