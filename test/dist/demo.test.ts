import {spawnSync} from 'node:child_process'
import {resolve} from 'node:path'
import {describe, expect, it} from 'vitest'

const root = resolve(import.meta.dirname, '..', '..')

// The README promises `npm run demo` works on a fresh clone; keep that true.
describe('npm run demo', () => {
  it('runs set-image --repo on the shipped example and shows the commit that landed', () => {
    const r = spawnSync(process.execPath, ['scripts/demo.mjs'], {cwd: root, encoding: 'utf8'})
    expect(r.stderr).not.toMatch(/demo failed/)
    expect(r.status).toBe(0)
    const [before, after] = r.stdout.split('$ gitops-deploy set-image')
    expect(before).toContain('newTag: 1.4.2')
    expect(after).toContain('"pushed": true')
    expect(after).toMatch(/after \(apps\/web\/overlays\/staging\):\nimages:[\s\S]*newTag: 1\.5\.0/)
    expect(after).toContain('+  newTag: 1.5.0')
  })
})

// The second demo: set-image --wait against the Argo CD double, the loop closed.
describe('npm run demo:wait', () => {
  it('pushes, finds the two apps that deploy the overlay and waits until both are healthy', () => {
    const r = spawnSync(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'scripts/demo-wait.ts'], {
      cwd: root,
      encoding: 'utf8'
    })
    expect(r.stderr).not.toMatch(/demo failed/)
    expect(r.status, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/argo cd: every app runs [0-9a-f]{12}/)
    expect(r.stdout).toMatch(/web-staging: deployed \(Synced\/Healthy/)
    expect(r.stdout).toMatch(/all-web: deployed \(Synced\/Healthy/)
    expect(r.stdout).not.toContain('web-production: deployed')
  })
})
