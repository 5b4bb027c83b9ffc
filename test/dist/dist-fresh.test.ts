import {execFileSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

const root = resolve(import.meta.dirname, '..', '..')

// dist/ is what GitHub runs; a stale bundle ships yesterday's behaviour.
describe('committed build output', () => {
  const out = mkdtempSync(join(tmpdir(), 'gitops-dist-'))
  afterAll(() => rmSync(out, {recursive: true, force: true}))

  it('dist/ and action.yml match a fresh build of src/', () => {
    execFileSync(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), 'scripts/build.ts', '--out', out], {
      cwd: root,
      stdio: 'pipe'
    })
    const list = (dir: string) =>
      readdirSync(join(dir, 'dist'), {recursive: true, withFileTypes: true})
        .filter(e => e.isFile())
        .map(e => join(e.parentPath, e.name).slice(dir.length + 1))
        .sort()
    expect(list(root), "dist/ has other files than a fresh build: run 'npm run build'").toEqual(list(out))
    for (const file of [...list(out), 'action.yml']) {
      const committed = readFileSync(join(root, file), 'utf8')
      const fresh = readFileSync(join(out, file), 'utf8')
      expect(committed === fresh, `${file} is stale: run 'npm run build' and commit the result`).toBe(true)
    }
  })

  it('the ESM bundles contain no require() shim that would throw at run time', () => {
    for (const file of ['dist/bundle/index.js']) {
      const text = readFileSync(join(root, file), 'utf8')
      expect(text.startsWith('import') || text.startsWith('#!'), file).toBe(true)
      // ncc's fallback for unresolvable modules breaks in ESM (vercel/ncc#791).
      const sites = text.match(/eval\("require"\)\("([^"]+)"\)/g) ?? []
      // Known, unreachable sites: debug's optional supports-color (inside try/catch) and
      // bottleneck's Redis cluster stores, loaded only with `datastore: 'redis'`, which we never set.
      const allowed = ['supports-color', 'ioredis', 'redis']
      expect(sites.filter(s => !allowed.some(a => s.endsWith(`("${a}")`)))).toEqual([])
    }
  })
})
