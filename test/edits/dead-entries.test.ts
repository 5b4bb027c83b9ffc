import {mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeEach, describe, expect, it} from 'vitest'
import {deployment} from '../helpers/git-fixtures.js'
import {cli} from '../helpers/cli.js'

let root: string
const read = (rel: string) => readFileSync(join(root, rel), 'utf8')
function put(rel: string, text: string): void {
  mkdirSync(join(root, rel, '..'), {recursive: true})
  writeFileSync(join(root, rel), text)
}
const run = (...args: string[]) => cli(['set-image', '-C', root, ...args])

beforeEach(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'dead-entries-')))
  // web pins its image in the overlay; api runs its image only through the base (no images: yet);
  // worker runs neither.
  for (const app of ['web', 'api', 'worker']) {
    put(`apps/${app}/base/kustomization.yaml`, 'resources:\n  - deployment.yaml\n')
    put(`apps/${app}/base/deployment.yaml`, deployment(app, `ghcr.io/acme/${app}:1.0.0`))
  }
  put(
    'apps/web/overlays/dev/kustomization.yaml',
    'resources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/web\n    newTag: 1.0.0\n'
  )
  put('apps/api/overlays/dev/kustomization.yaml', 'resources:\n  - ../../base\n')
  put('apps/worker/overlays/dev/kustomization.yaml', 'resources:\n  - ../../base\n')
})

describe('dead-entry protection (a glob or several paths)', () => {
  it('sets each image only where it is pinned or run, and reports every overlay', async () => {
    const r = await run(
      '--path',
      'apps/*/overlays/dev',
      '--image',
      'ghcr.io/acme/web:2.0.0',
      '--image',
      'ghcr.io/acme/api:2.0.0',
      '--json'
    )
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.overlays).toEqual([
      {
        dir: 'apps/api/overlays/dev',
        set: ['ghcr.io/acme/api'],
        unchanged: [],
        skipped: ['ghcr.io/acme/web']
      },
      {
        dir: 'apps/web/overlays/dev',
        set: ['ghcr.io/acme/web'],
        unchanged: [],
        skipped: ['ghcr.io/acme/api']
      },
      {
        dir: 'apps/worker/overlays/dev',
        set: [],
        unchanged: [],
        skipped: ['ghcr.io/acme/web', 'ghcr.io/acme/api']
      }
    ])
    expect(read('apps/web/overlays/dev/kustomization.yaml')).not.toContain('acme/api')
    expect(read('apps/api/overlays/dev/kustomization.yaml')).toContain('name: ghcr.io/acme/api')
    expect(read('apps/api/overlays/dev/kustomization.yaml')).not.toContain('acme/web')
    expect(read('apps/worker/overlays/dev/kustomization.yaml')).toBe('resources:\n  - ../../base\n')

    // The text says what was skipped, per overlay; a second run finds the values already set.
    const again = await run('--path', 'apps/*/overlays/dev', '--image', 'ghcr.io/acme/web:2.0.0')
    expect(again.code).toBe(0)
    expect(again.stdout).toContain(
      'apps/api/overlays/dev: skipped ghcr.io/acme/web (neither pinned nor run there; --add-missing adds it)'
    )
    expect(again.stdout).toContain('nothing to change')
  })

  it('several literal paths are protected like a glob', async () => {
    const r = await run(
      '--path',
      'apps/web/overlays/dev',
      '--path',
      'apps/worker/overlays/dev',
      '--image',
      'ghcr.io/acme/web:2.0.0'
    )
    expect(r.code).toBe(0)
    expect(read('apps/worker/overlays/dev/kustomization.yaml')).toBe('resources:\n  - ../../base\n')
  })

  it('an image no matched overlay pins or runs is a typo: exit 2 naming it, nothing written', async () => {
    const before = read('apps/web/overlays/dev/kustomization.yaml')
    const r = await run(
      '--path',
      'apps/*/overlays/dev',
      '--image',
      'ghcr.io/acme/web:2.0.0',
      '--image',
      'ghcr.io/acme/wbe:2.0.0'
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      `error: --image "ghcr.io/acme/wbe:2.0.0": no overlay matched by --path apps/*/overlays/dev pins or runs an image named 'ghcr.io/acme/wbe' (images there: ghcr.io/acme/api, ghcr.io/acme/web, ghcr.io/acme/worker); check the name for a typo, or pass --add-missing to add the entry to every matched overlay anyway\n`
    )
    expect(read('apps/web/overlays/dev/kustomization.yaml')).toBe(before)
  })

  it('--add-missing restores kustomize behaviour: every matched overlay gets the entry', async () => {
    const r = await run(
      '--path',
      'apps/*/overlays/dev',
      '--image',
      'ghcr.io/acme/web:2.0.0',
      '--add-missing'
    )
    expect(r.code).toBe(0)
    for (const app of ['web', 'api', 'worker'])
      expect(read(`apps/${app}/overlays/dev/kustomization.yaml`)).toContain('ghcr.io/acme/web')
  })

  it('one named overlay keeps the add-the-entry behaviour (the base runs the image)', async () => {
    const r = await run('--path', 'apps/api/overlays/dev', '--image', 'ghcr.io/acme/api:3.0.0')
    expect(r.code).toBe(0)
    expect(read('apps/api/overlays/dev/kustomization.yaml')).toContain('newTag: 3.0.0')
  })

  it('--add-missing with one named overlay is refused (it would change nothing)', async () => {
    const r = await run(
      '--path',
      'apps/api/overlays/dev',
      '--image',
      'ghcr.io/acme/api:3.0.0',
      '--add-missing'
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /--add-missing applies to --image with a glob or several --path values/
    )
  })

  it("reads a base's own renames: the overlays receive the new name, not the old one", async () => {
    for (const app of ['web', 'api']) {
      put(
        `apps/${app}/base/kustomization.yaml`,
        `resources:\n  - deployment.yaml\nimages:\n  - name: ${app}\n    newName: registry.example.com/${app}\n`
      )
      put(`apps/${app}/base/deployment.yaml`, deployment(app, `${app}:1.0.0`))
    }
    const old = await run('--path', 'apps/*/overlays/dev', '--image', 'api:2.0.0')
    expect(old.code).toBe(2)
    expect(old.stderr).toContain(
      "pins or runs an image named 'api' (images there: registry.example.com/api"
    )
    const renamed = await run(
      '--path',
      'apps/*/overlays/dev',
      '--image',
      'registry.example.com/api:2.0.0',
      '--render-check',
      'never'
    )
    expect(renamed.code).toBe(0)
    expect(read('apps/api/overlays/dev/kustomization.yaml')).toContain(
      'name: registry.example.com/api'
    )
  })

  it('a base with a Helm chart or a remote resource may run anything: the entry is set', async () => {
    put(
      'apps/worker/base/kustomization.yaml',
      'resources:\n  - deployment.yaml\n  - https://github.com/acme/shared//base?ref=v1\n'
    )
    const r = await run(
      '--path',
      'apps/*/overlays/dev',
      '--image',
      'ghcr.io/acme/web:2.0.0',
      '--render-check',
      'never',
      '--json'
    )
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).overlays).toContainEqual({
      dir: 'apps/worker/overlays/dev',
      set: ['ghcr.io/acme/web'],
      unchanged: [],
      skipped: []
    })
  })
})
