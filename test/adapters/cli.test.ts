import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {commands} from '../../src/commands/registry.js'
import {cli} from '../helpers/cli.js'
import {fakeToken} from '../helpers/fake-token.js'

describe('CLI adapter', () => {
  it('lists every command in its help', async () => {
    const r = await cli(['--help'])
    expect(r.code).toBe(0)
    for (const c of commands) expect(r.stdout).toContain(c.name)
  })

  it('prints the package version for --version (read from package.json when run from source)', async () => {
    const {version} = JSON.parse(
      readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')
    ) as {version: string}
    const r = await cli(['--version'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`${version}\n`)
  })

  it('names component inputs, not flags, in errors about values that came from GITOPS_INPUT_*', async () => {
    const bad = await cli(['set-image', '--env-inputs'], {GITOPS_INPUT_PATH: '["a'})
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^error: 'path' input is not a valid JSON array/)
    const env = {
      GITOPS_INPUT_REPO: 'file:///nonexistent.git',
      GITOPS_INPUT_FROM: 'dev',
      GITOPS_INPUT_NEXT: 'true'
    }
    const fromEnv = await cli(['promote', '--env-inputs'], {...env, GITOPS_INPUT_MODE: 'merge'})
    expect(fromEnv.stderr).toMatch(/^error: 'mode' input 'merge' is not known; use pr or push/)
    // A flag the user typed stays a flag, and without --env-inputs everything is a flag.
    const flag = await cli(['promote', '--env-inputs', '--mode', 'merge'], env)
    expect(flag.stderr).toMatch(/^error: --mode 'merge' is not known; use pr or push/)
    const plain = await cli([
      'promote',
      '--repo',
      env.GITOPS_INPUT_REPO,
      '--from',
      'dev',
      '--next',
      '--mode',
      'merge'
    ])
    expect(plain.stderr).toMatch(/^error: --mode 'merge' is not known/)
  })

  it('exits 2 without a command, and says how to get help', async () => {
    const r = await cli([])
    expect(r.code).toBe(2)
    expect(r.stdout).toContain('usage: gitops-deploy <command>')
  })

  it('rejects an unknown command with exit 2 and the list of commands', async () => {
    const r = await cli(['deploy-everything'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^error: unknown command 'deploy-everything'; use one of: set-image/)
  })

  it('rejects an unknown flag with exit 2 and points at --help', async () => {
    const r = await cli(['set-image', '--no-such-flag'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^error: .*no-such-flag.*run 'gitops-deploy set-image --help'/)
  })

  it('prints per-command help with every CLI option', async () => {
    for (const c of commands) {
      const r = await cli([c.name, '--help'])
      expect(r.code).toBe(0)
      for (const o of c.options.filter(o => !o.actionOnly))
        expect(r.stdout).toContain(`--${o.name}`)
    }
  })

  it('help speaks of the command asked about: --mode names its own default, argo-app names no other command', async () => {
    const names = commands.map(c => c.name)
    for (const c of commands.filter(x => x.options.some(o => o.name === 'mode'))) {
      const r = await cli([c.name, '--help'])
      const mode = r.stdout.split('\n').find(l => l.trimStart().startsWith('--mode'))!
      for (const other of names) expect(mode, `${c.name} --mode`).not.toContain(other)
      expect(mode).toMatch(c.name === 'promote' ? /\(default: pr\)$/ : /\(default: push\)$/)
    }
    const argoApp = (await cli(['argo-app', '--help'])).stdout
    for (const other of ['set-image', 'set-chart-version', 'argo-upsert', 'promote', '--wait'])
      expect(argoApp).not.toContain(other)
  })

  it('never prints a token from the environment in an error', async () => {
    const token = fakeToken('ghp_', 'SECRETSECRETSECRET')
    const r = await cli(['set-image', `--${token}`], {GITOPS_TOKEN: token})
    expect(r.code).toBe(2)
    expect(r.stderr + r.stdout).not.toContain(token)
  })
  it('--dotenv leaves out an output too big for GitLab, warns which, and keeps the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-dotenv-'))
    writeFileSync(join(dir, 'values.yaml'), 'tag: old\n')
    const big = 'x'.repeat(6000)
    const dotenv = join(dir, 'out.env')
    const r = await cli([
      'set-image',
      '-C',
      dir,
      '--set',
      `values.yaml:tag=${big}`,
      '--dotenv',
      dotenv
    ])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain(
      "warning: dotenv report: left out GITOPS_EDITS to stay within GitLab's limits"
    )
    const text = readFileSync(dotenv, 'utf8')
    expect(text).toContain('GITOPS_CHANGED=true\n')
    expect(text).toContain('GITOPS_FILES=["values.yaml"]\n')
    expect(text).not.toContain('GITOPS_EDITS=')
    expect(Buffer.byteLength(text)).toBeLessThan(5 * 1024)
  })
})
