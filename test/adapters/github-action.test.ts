import {execFileSync, spawnSync} from 'node:child_process'
import {cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterAll, describe, expect, it} from 'vitest'
import {fakeToken} from '../helpers/fake-token.js'
import {missingTool} from '../helpers/tools.js'

// The Action from src/ (dist/ is rebuilt by the coordinator), run the way the runner runs it:
// INPUT_* variables, file commands, workflow commands on stdout.
const root = resolve(import.meta.dirname, '..', '..')
const tsx = join(root, 'node_modules/tsx/dist/cli.mjs')
const tmp = mkdtempSync(join(tmpdir(), 'gitops-action-src-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))
let n = 0

function runAction(
  inputs: Record<string, string>,
  extraEnv: Record<string, string> = {},
  checkout?: string
) {
  const dir = join(tmp, String(++n))
  const workspace = checkout ?? join(dir, 'workspace')
  if (!checkout) cpSync(join(root, 'examples', 'config-repo'), workspace, {recursive: true})
  mkdirSync(dir, {recursive: true})
  const output = join(dir, 'output')
  writeFileSync(output, '')
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    GITHUB_OUTPUT: output,
    GITHUB_WORKSPACE: workspace,
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@example.com',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@example.com',
    ...extraEnv
  }
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v
  const r = spawnSync(process.execPath, [tsx, join(root, 'src/action.ts')], {
    cwd: workspace,
    env,
    encoding: 'utf8'
  })
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    workspace,
    outputs: parseOutputs(readFileSync(output, 'utf8'))
  }
}

/** The runner's `name<<delimiter` heredoc format. */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of text.matchAll(/^(.+?)<<(\S+)\n([\s\S]*?)\n\2$/gm)) out[m[1]] = m[3]
  return out
}

/** The lines between ::group:: and ::endgroup::, and the group's title. */
function group(stdout: string): {title: string; lines: string[]} {
  const lines = stdout.split('\n')
  const start = lines.findIndex(l => l.startsWith('::group::'))
  const end = lines.indexOf('::endgroup::')
  expect(start, stdout).toBeGreaterThanOrEqual(0)
  return {title: lines[start].slice('::group::'.length), lines: lines.slice(start + 1, end)}
}

describe('the Action log (from source)', () => {
  it('prints what it did outside debug, in a collapsible group, then the outputs', () => {
    const r = runAction({
      command: 'set-image',
      path: 'apps/web/overlays/dev',
      image: 'ghcr.io/acme/web:2.0.0'
    })
    expect(r.status, r.stdout + r.stderr).toBe(0)
    const g = group(r.stdout)
    expect(g.title).toBe('gitops-deploy set-image')
    expect(g.lines).toContain(
      'apps/web/overlays/dev/kustomization.yaml: ghcr.io/acme/web ghcr.io/acme/web:3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39 -> ghcr.io/acme/web:2.0.0'
    )
    expect(g.lines).toContain('1 file changed')
    const check = missingTool('kubectl') ? 'skipped' : 'passed'
    expect(r.stdout).toMatch(new RegExp(`^outputs: changed=true render-check=${check}$`, 'm'))
  })

  it('names the commit, the branch, the transport and the attempts of a push', () => {
    const seed = join(tmp, 'seed')
    cpSync(join(root, 'examples', 'config-repo'), seed, {recursive: true})
    const git = (args: string[], cwd = seed) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        cwd,
        encoding: 'utf8'
      })
    git(['init', '-q', '-b', 'main'])
    git(['add', '-A'])
    git(['commit', '-qm', 'seed'])
    const bare = join(tmp, 'config.git')
    git(['clone', '-q', '--bare', seed, bare], tmp)
    const r = runAction({
      command: 'set-image',
      repo: pathToFileURL(bare).href,
      path: 'apps/web/overlays/staging',
      image: 'ghcr.io/acme/web:1.5.0'
    })
    expect(r.status, r.stdout + r.stderr).toBe(0)
    const commit = execFileSync('git', ['--git-dir', bare, 'rev-parse', 'main'], {
      encoding: 'utf8'
    }).trim()
    expect(group(r.stdout).lines.join('\n')).toContain(
      `pushed ${commit} to main of ${pathToFileURL(bare).href} via git`
    )
    expect(r.stdout).toMatch(
      new RegExp(`^outputs: .*commit=${commit} .*attempts=1 .*transport=git`, 'm')
    )
  })

  it('prints the diff on dry-run and writes nothing', () => {
    const r = runAction({
      command: 'set-image',
      path: 'apps/web/overlays/dev',
      image: 'ghcr.io/acme/web:2.0.0',
      'dry-run': 'true'
    })
    expect(r.status, r.stdout + r.stderr).toBe(0)
    const lines = group(r.stdout).lines
    expect(lines).toContain('--- a/apps/web/overlays/dev/kustomization.yaml')
    expect(lines).toContain('+    newTag: 2.0.0 # built by acme/web CI')
    expect(lines).toContain('dry run: 1 file would change, nothing written')
    expect(
      readFileSync(join(r.workspace, 'apps/web/overlays/dev/kustomization.yaml'), 'utf8')
    ).not.toContain('2.0.0')
  })

  it.skipIf(missingTool('kubectl'))(
    'refuses an image no container runs with the same render-check message, in input words',
    () => {
      const r = runAction({
        command: 'set-image',
        path: 'apps/web/overlays/dev',
        image: 'ghcr.io/acme/wbe:2.0.0'
      })
      expect(r.status).toBe(1)
      expect(r.stdout).toContain(
        '::error::render check: apps/web/overlays/dev sets ghcr.io/acme/wbe to ghcr.io/acme/wbe:2.0.0, but no container there runs it'
      )
      expect(r.stdout).toContain("'render-check' input")
      expect(r.stdout).not.toContain('--render-check')
      expect(
        readFileSync(join(r.workspace, 'apps/web/overlays/dev/kustomization.yaml'), 'utf8')
      ).not.toContain('wbe')
    }
  )

  it('fails naming the input as written in the workflow, with one error prefix', () => {
    const r = runAction({
      command: 'promote',
      repo: 'file:///nonexistent.git',
      from: 'dev',
      next: 'true',
      mode: 'merge'
    })
    expect(r.status).toBe(1)
    expect(r.stdout).toContain("::error::'mode' input 'merge' is not known; use pr or push")
    expect(r.stdout).not.toMatch(/::error::error:/i)
    expect(r.stdout).not.toContain('--mode')
  })

  it('masks the token once, though it reaches the command as GITOPS_TOKEN too', () => {
    const token = fakeToken('ghs_', 'MaskedOnce')
    const r = runAction(
      {command: 'set-image', token, path: 'apps/web/overlays/dev', image: 'ghcr.io/acme/web:2.0.0'},
      {GITOPS_TOKEN: token}
    )
    expect(r.status, r.stdout + r.stderr).toBe(0)
    expect(r.stdout.split('\n').filter(l => l.startsWith('::add-mask::'))).toEqual([
      `::add-mask::${token}`
    ])
    expect(r.stdout.split('\n')[0]).toBe(`::add-mask::${token}`)
  })
})

describe('the Action hands the GitHub event to changes (@actions/github context)', () => {
  function appRepo(): {dir: string; shas: string[]} {
    const dir = join(tmp, `app-${++n}`)
    mkdirSync(join(dir, 'src'), {recursive: true})
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        cwd: dir,
        encoding: 'utf8'
      }).trim()
    git('init', '-q', '-b', 'main')
    const shas: string[] = []
    for (const [file, text] of [
      ['src/app.ts', 'v0'],
      ['deploy/app.yaml', 'x'],
      ['src/app.ts', 'v1']
    ]) {
      mkdirSync(join(dir, file, '..'), {recursive: true})
      writeFileSync(join(dir, file), text)
      git('add', '-A')
      git('commit', '-qm', `${file} ${text}`)
      shas.push(git('rev-parse', 'HEAD'))
    }
    return {dir, shas}
  }

  const githubEnv = (dir: string, payload: unknown, sha: string) => {
    const path = join(dir, '..', `event-${n}.json`)
    writeFileSync(path, JSON.stringify(payload))
    return {
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: 'push',
      GITHUB_EVENT_PATH: path,
      GITHUB_SHA: sha,
      GITHUB_REF: 'refs/heads/main',
      GITHUB_REPOSITORY: 'acme/app'
    }
  }

  it('compares the push payload before..after: a manifest-only push reuses the image', () => {
    const {dir, shas} = appRepo()
    const env = githubEnv(dir, {before: shas[0], after: shas[1]}, shas[1])
    const r = runAction({command: 'changes', 'build-paths': 'src/**'}, env, dir)
    expect(r.status, r.stdout + r.stderr).toBe(0)
    expect(r.outputs).toMatchObject({
      build: 'false',
      base: shas[0],
      head: shas[1],
      'image-tag': shas[0]
    })
  })

  it('a push that changed the build paths builds', () => {
    const {dir, shas} = appRepo()
    const env = githubEnv(dir, {before: shas[1], after: shas[2]}, shas[2])
    const r = runAction({command: 'changes', 'build-paths': 'src/**'}, env, dir)
    expect(r.outputs).toMatchObject({
      build: 'true',
      base: shas[1],
      head: shas[2],
      'image-tag': shas[2]
    })
  })

  it('without a readable payload it builds, saying why', () => {
    const {dir, shas} = appRepo()
    const env = {...githubEnv(dir, {}, shas[2]), GITHUB_EVENT_PATH: join(dir, 'missing.json')}
    const r = runAction({command: 'changes', 'build-paths': 'src/**'}, env, dir)
    expect(r.status, r.stdout + r.stderr).toBe(0)
    expect(r.outputs.build).toBe('true')
    expect(r.outputs.reason).toMatch(
      /the push event payload \(GITHUB_EVENT_PATH\) could not be read/
    )
  })
})
