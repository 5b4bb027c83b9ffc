import {spawnSync} from 'node:child_process'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {nodeRuntimes} from '../helpers/node-runtimes.js'
import {fakeToken} from '../helpers/fake-token.js'

const root = resolve(import.meta.dirname, '..', '..')
const bundle = join(root, 'dist', 'index.js')
const temps: string[] = []
afterEach(() => {
  for (const t of temps.splice(0)) rmSync(t, {recursive: true, force: true})
})

/** Runs the committed action bundle the way the runner does: INPUT_* env, file commands. */
function runAction(
  node: string,
  inputs: Record<string, string>,
  extraEnv: Record<string, string> = {}
) {
  const dir = mkdtempSync(join(tmpdir(), 'gitops-action-'))
  temps.push(dir)
  const workspace = join(dir, 'workspace')
  cpSync(join(root, 'examples', 'config-repo'), workspace, {recursive: true})
  const output = join(dir, 'output')
  const summary = join(dir, 'summary')
  writeFileSync(output, '')
  writeFileSync(summary, '')
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
    GITHUB_WORKSPACE: workspace,
    ...extraEnv
  }
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v
  const r = spawnSync(node, [bundle], {cwd: workspace, env, encoding: 'utf8'})
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    outputs: parseOutputs(readFileSync(output, 'utf8')),
    summary: readFileSync(summary, 'utf8'),
    workspace
  }
}

/** Parses the runner's `name<<delimiter` heredoc format. */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const re = /^(.+?)<<(\S+)\n([\s\S]*?)\n\2$/gm
  for (const m of text.matchAll(re)) out[m[1]] = m[3]
  return out
}

describe.each(nodeRuntimes())('action bundle on $label', ({bin}) => {
  it('runs set-image from INPUT_* and writes outputs and a job summary', () => {
    const r = runAction(bin, {
      command: 'set-image',
      path: 'apps/*/overlays/dev',
      image: 'ghcr.io/acme/web:2.0.0\nghcr.io/acme/api:2.9.0'
    })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.outputs.changed).toBe('true')
    const edits = JSON.parse(r.outputs.edits) as {
      file: string
      image?: string
      after: string | null
    }[]
    expect(edits.map(e => [e.file, e.image, e.after])).toEqual(
      expect.arrayContaining([
        ['apps/web/overlays/dev/kustomization.yaml', 'ghcr.io/acme/web', 'ghcr.io/acme/web:2.0.0'],
        ['apps/api/overlays/dev/kustomization.yaml', 'ghcr.io/acme/api', 'ghcr.io/acme/api:2.9.0']
      ])
    )
    expect(r.summary).toContain('ghcr.io/acme/web')
    expect(r.summary).toContain('2.0.0')
    const text = readFileSync(join(r.workspace, 'apps/web/overlays/dev/kustomization.yaml'), 'utf8')
    expect(text).toContain('newTag: 2.0.0 # built by acme/web CI')
  })

  it('masks the token input before anything else and keeps it out of outputs', () => {
    const token = fakeToken('ghs_', 'ActionTokenValue')
    const r = runAction(bin, {
      command: 'set-image',
      token,
      path: 'apps/web/overlays/dev',
      image: 'web:1'
    })
    expect(r.stdout.split('\n')[0]).toBe(`::add-mask::${token}`)
    expect(JSON.stringify(r.outputs)).not.toContain(token)
    expect(r.summary).not.toContain(token)
  })

  it('fails the step with a message naming the fix for an unknown command', () => {
    const r = runAction(bin, {command: 'deploy-everything'})
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(
      /::error::unknown command 'deploy-everything'; set the 'command' input to one of: set-image/
    )
  })

  it('fails with exit 1 and a clear error for an invalid image argument, touching nothing', () => {
    const before = readFileSync(
      join(root, 'examples/config-repo/apps/web/overlays/dev/kustomization.yaml'),
      'utf8'
    )
    const r = runAction(bin, {command: 'set-image', path: 'apps/web/overlays/dev', image: 'web'})
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(/::error::.*invalid.*image/i)
    expect(
      readFileSync(join(r.workspace, 'apps/web/overlays/dev/kustomization.yaml'), 'utf8')
    ).toBe(before)
  })
})
