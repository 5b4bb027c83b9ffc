import {execFileSync, spawnSync} from 'node:child_process'
import {cpSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterAll, describe, expect, it} from 'vitest'
import {nodeRuntimes} from '../helpers/node-runtimes.js'

const root = resolve(import.meta.dirname, '..', '..')
const cli = join(root, 'dist', 'cli.js')
const tmp = mkdtempSync(join(tmpdir(), 'gitops-cli-bundle-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com'
}

function configRepo(name: string): string {
  const seed = join(tmp, `${name}-seed`)
  cpSync(join(root, 'examples', 'config-repo'), seed, {recursive: true})
  for (const args of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-q', '-m', 'seed']]) {
    execFileSync('git', args, {cwd: seed, env: gitEnv})
  }
  const bare = join(tmp, `${name}.git`)
  execFileSync('git', ['clone', '-q', '--bare', seed, bare], {env: gitEnv})
  return bare
}

// `node dist/cli.js` is what users and the GitLab component run: on the Action's Node 24 and on older hosts.
describe.each(nodeRuntimes())('CLI bundle on $label', ({label, bin}) => {
  it('prints help and exits 0', () => {
    const r = spawnSync(bin, [cli, '--help'], {encoding: 'utf8'})
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('usage: gitops-deploy <command>')
  })

  it('commits and pushes a set-image to a file:// config repo', () => {
    const bare = configRepo(label.replace(' ', '-'))
    const r = spawnSync(
      bin,
      [cli, 'set-image', '--repo', pathToFileURL(bare).href, '--path', 'apps/api/overlays/dev', '--image', 'ghcr.io/acme/api:3.0.0', '--json'],
      {encoding: 'utf8', env: {PATH: process.env.PATH ?? '', HOME: tmp}}
    )
    expect(r.stderr).not.toMatch(/^error:/m)
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout) as {changed: boolean; pushed: boolean; commit: string}
    expect(out).toMatchObject({changed: true, pushed: true})
    const text = execFileSync('git', ['--git-dir', bare, 'show', 'main:apps/api/overlays/dev/kustomization.yaml'], {
      encoding: 'utf8'
    })
    expect(text).toContain('newTag: 3.0.0')
    expect(execFileSync('git', ['--git-dir', bare, 'rev-parse', 'main'], {encoding: 'utf8'}).trim()).toBe(out.commit)
  })

  it('exits 2 with one error line for bad input', () => {
    const r = spawnSync(bin, [cli, 'set-image', '-C', join(root, 'examples', 'config-repo'), '--image', 'web', '--dry-run'], {
      encoding: 'utf8'
    })
    expect(r.status).toBe(2)
    expect(r.stderr.split('\n')[0]).toMatch(/^error: invalid image argument "web"/)
  })
})
