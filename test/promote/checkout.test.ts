import {mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {planCheckout, writeCheckoutPlan} from '../../src/edits/promote.js'

const CONFIG =
  'environments:\n  - name: dev\n    path: apps/{app}/dev\n  - name: prod\n    path: apps/{app}/prod\n'
const kust = (tag: string) => `images:\n  - name: web\n    newTag: "${tag}" # pinned\n`

let dirs: string[] = []
afterEach(() => {
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
  dirs = []
})

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'gitops-checkout-'))
  dirs.push(root)
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), {recursive: true})
    writeFileSync(join(root, path), text)
  }
  return root
}

const request = {from: 'dev', to: 'prod', next: false, apps: [], files: [], policy: 'keep' as const}

describe('planning on a checkout', () => {
  it('edits only the changed value, byte for byte', async () => {
    const root = tree({
      '.gitops-deploy.yaml': CONFIG,
      'apps/web/dev/kustomization.yaml': kust('2'),
      'apps/web/prod/kustomization.yaml': kust('1')
    })
    const plan = await planCheckout(root, request)
    expect(plan.changed).toBe(true)
    expect(plan.files.map(f => [f.file, f.after.toString()])).toEqual([
      ['apps/web/prod/kustomization.yaml', 'images:\n  - name: web\n    newTag: "2" # pinned\n']
    ])
    expect(plan.changes).toEqual([
      {file: 'apps/web/prod/kustomization.yaml', image: 'web', before: '1', after: '2'}
    ])
  })

  it('never follows a symlinked target directory out of the repo', async () => {
    const outside = tree({'kustomization.yaml': kust('1')})
    const root = tree({'.gitops-deploy.yaml': CONFIG, 'apps/web/dev/kustomization.yaml': kust('2')})
    symlinkSync(outside, join(root, 'apps/web/prod'))
    // The link is not listed, so the target holds no files: refused, never followed.
    await expect(planCheckout(root, request)).rejects.toThrow(/holds no files in the config repo/)
    expect(readFileSync(join(outside, 'kustomization.yaml'), 'utf8')).toBe(kust('1'))
  })

  it('refuses to copy --files through a symlinked subdirectory', async () => {
    const outside = tree({})
    const root = tree({
      '.gitops-deploy.yaml': CONFIG,
      'apps/web/dev/kustomization.yaml': kust('1'),
      'apps/web/dev/config/app.properties': 'x=1\n',
      'apps/web/prod/kustomization.yaml': kust('1')
    })
    symlinkSync(outside, join(root, 'apps/web/prod/config'))
    const plan = await planCheckout(root, {...request, files: ['config/*']})
    await expect(writeCheckoutPlan(root, plan)).rejects.toThrow(
      /resolves outside the repository \(a symlink\)/
    )
  })

  it('rejects --app for a single-app layout and a .yml config name', async () => {
    const single = tree({
      '.gitops-deploy.yaml':
        'environments:\n  - name: dev\n    path: deploy/dev\n  - name: prod\n    path: deploy/prod\n',
      'deploy/dev/kustomization.yaml': kust('2'),
      'deploy/prod/kustomization.yaml': kust('1')
    })
    expect((await planCheckout(single, request)).files.map(f => f.file)).toEqual([
      'deploy/prod/kustomization.yaml'
    ])
    await expect(planCheckout(single, {...request, apps: ['web']})).rejects.toThrow(
      /--app needs \{app\} in the environment paths/
    )
    const yml = tree({'.gitops-deploy.yml': CONFIG})
    await expect(planCheckout(yml, request)).rejects.toThrow(
      /found \.gitops-deploy\.yml; .* rename the file/
    )
  })
})
