/**
 * No false success: a target overlay with no entry for an image is "not
 * promoted" (never "already identical"), --add-missing adds the pin, and a
 * promotion to an older version says "downgrade".
 */
import {afterEach, describe, expect, it} from 'vitest'
import {compareVersions} from '../../src/core/promotion/pins.js'
import {cli} from '../helpers/cli.js'
import {makeBareRepo, type BareRepo} from '../helpers/git-fixtures.js'

const CONFIG =
  'environments:\n  - name: dev\n    path: apps/{app}/overlays/dev\n  - name: staging\n    path: apps/{app}/overlays/staging\n'

function overlay(images: string): string {
  return `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\n${images}`
}
const pinned = (tag: string) => `images:\n  - name: ghcr.io/acme/web\n    newTag: ${tag}\n`

let repo: BareRepo | undefined
afterEach(async () => {
  await repo?.cleanup()
  repo = undefined
})

async function setup(dev: string, staging: string) {
  repo = await makeBareRepo({
    '.gitops-deploy.yaml': CONFIG,
    'apps/web/overlays/dev/kustomization.yaml': overlay(dev),
    'apps/web/overlays/staging/kustomization.yaml': overlay(staging)
  })
  return repo
}

const promote = (r: BareRepo, ...args: string[]) =>
  cli(['promote', '--repo', r.url, '--mode', 'push', '--from', 'dev', '--to', 'staging', ...args])

describe('promote to an overlay without an images: entry', () => {
  it('reports the app as not promoted, with the reason and the fix; pushes nothing', async () => {
    const r = await setup(pinned('1.2.0'), '')
    const before = await r.head()
    const run = await promote(r, '--json')
    expect(run.code, run.stderr).toBe(0)
    const out = JSON.parse(run.stdout)
    expect(out.changed).toBe(false)
    expect(out.apps[0]).toMatchObject({app: 'web', status: 'not-promoted'})
    expect(out.apps[0].images).toEqual([
      {name: 'ghcr.io/acme/web', status: 'not-in-target', pin: '1.2.0'}
    ])
    const text = await promote(r)
    expect(text.stdout).toContain(
      'nothing promoted: web in staging has no entry for images dev pins; add them with --add-missing'
    )
    expect(text.stdout).not.toContain('already has the pins')
    expect(await r.head()).toBe(before)
  })

  it('--add-missing adds the pin as kustomize would', async () => {
    const r = await setup(pinned('1.2.0'), '')
    const run = await promote(r, '--add-missing', '--json')
    expect(run.code, run.stderr).toBe(0)
    const out = JSON.parse(run.stdout)
    expect(out.outcome).toBe('pushed')
    expect(out.apps[0].images).toEqual([
      {name: 'ghcr.io/acme/web', status: 'promoted', from: null, to: '1.2.0', added: true}
    ])
    expect(await r.readFile('apps/web/overlays/staging/kustomization.yaml')).toContain(
      'images:\n  - name: ghcr.io/acme/web\n    newTag: 1.2.0\n'
    )
  })
})

describe('a promotion to an older version', () => {
  it('says downgrade in the text, the JSON and the commit message', async () => {
    const r = await setup(pinned('1.2.0'), pinned('2.0.0'))
    const run = await promote(r, '--json')
    expect(run.code, run.stderr).toBe(0)
    const out = JSON.parse(run.stdout)
    expect(out.apps[0].images[0]).toMatchObject({from: '2.0.0', to: '1.2.0', downgrade: true})
    const [head] = await r.log()
    expect(head.body).toContain('ghcr.io/acme/web 2.0.0 -> 1.2.0 (downgrade)')
  })

  it('compares tags as versions only when both are versions', () => {
    expect(compareVersions('2.0.0', '1.9.9')).toBe(1)
    expect(compareVersions('v1.10.0', 'v1.9.0')).toBe(1)
    expect(compareVersions('1.2.0-rc.1', '1.2.0')).toBe(-1)
    expect(compareVersions('1.2', '1.2.0')).toBe(0)
    expect(compareVersions('3f2a9c1', '1.0.0')).toBeUndefined()
    expect(compareVersions('latest', '1.0.0')).toBeUndefined()
  })
})
