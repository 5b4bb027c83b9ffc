import {execFileSync, spawnSync} from 'node:child_process'
import {cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

const root = resolve(import.meta.dirname, '..', '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string
  version: string
  files: string[]
  bin: Record<string, string>
  dependencies?: Record<string, string>
}

// What a user gets from `npm install @gitops-deploy/cli`: the tarball `npm pack` makes from a
// fresh build (in a temp copy: the committed dist/ is rebuilt by the coordinator), installed
// offline in a scratch project, then run through its bin.
describe('the npm package', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'gitops-pack-'))
  afterAll(() => rmSync(tmp, {recursive: true, force: true}))
  const npm = (args: string[], cwd: string) =>
    execFileSync('npm', [...args, '--cache', join(tmp, 'npm-cache'), '--no-audit', '--no-fund'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe']
    })

  it('is one scoped name with no runtime dependencies (dist/ is a self-contained bundle)', () => {
    expect(pkg.name).toBe('@gitops-deploy/cli')
    expect(pkg.bin).toEqual({'gitops-deploy': 'dist/cli.js'})
    expect(pkg.dependencies ?? {}).toEqual({})
  })

  it('is the only npm name the docs install or run (the unscoped name is not ours)', () => {
    const files = ['README.md', 'gitlab/README.md', ...readdirSync(join(root, 'docs')).map(f => `docs/${f}`)]
    for (const file of files) {
      const text = readFileSync(join(root, file), 'utf8')
      expect(text, file).not.toMatch(/\b(npx|npm (i|install|pack|view))\b[^\n`]*(?<![/\w-])gitops-deploy@/)
    }
    expect(readFileSync(join(root, 'docs/gitlab.md'), 'utf8')).toContain(`${pkg.name}@`)
  })

  it('packs only what runs, installs offline and runs --version and a real set-image', () => {
    const src = join(tmp, 'pkg')
    mkdirSync(src)
    for (const f of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md']) cpSync(join(root, f), join(src, f))
    execFileSync(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), 'scripts/build.ts', '--out', src], {
      cwd: root,
      stdio: 'pipe'
    })
    const [packed] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], src)) as {
      filename: string
      files: {path: string}[]
    }[]
    const files = packed.files.map(f => f.path).sort()
    const allowed = /^(dist\/(cli\.js|index\.js|package\.json|bundle\/(\d+\.)?index\.js)|LICENSE|README\.md|CHANGELOG\.md|package\.json)$/
    expect(files.filter(f => !allowed.test(f))).toEqual([])
    expect(files).toEqual(expect.arrayContaining(['dist/cli.js', 'dist/bundle/index.js', 'dist/package.json', 'LICENSE']))

    // Vendoring (cli-source local) and the GitLab image ship exactly these three, together.
    const vendor = join(tmp, 'vendor')
    for (const f of ['cli.js', 'package.json', 'bundle']) cpSync(join(src, 'dist', f), join(vendor, f), {recursive: true})
    const vendored = spawnSync(process.execPath, [join(vendor, 'cli.js'), '--version'], {encoding: 'utf8'})
    expect(vendored.stdout).toBe(`${pkg.version}\n`)

    const app = join(tmp, 'app')
    mkdirSync(app)
    writeFileSync(join(app, 'package.json'), '{"name": "scratch", "private": true}\n')
    npm(['install', '--offline', join(tmp, packed.filename)], app)
    const bin = join(app, 'node_modules', '.bin', 'gitops-deploy')

    const version = spawnSync(bin, ['--version'], {encoding: 'utf8'})
    expect(version.status).toBe(0)
    expect(version.stdout).toBe(`${pkg.version}\n`)

    const config = join(tmp, 'config')
    cpSync(join(root, 'examples', 'config-repo'), config, {recursive: true})
    const r = spawnSync(bin, ['set-image', '-C', config, '--path', 'apps/api/overlays/dev', '--image', 'ghcr.io/acme/api:3.1.4', '--json'], {
      encoding: 'utf8'
    })
    expect(r.stderr).not.toMatch(/^error:/m)
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({changed: true})
    expect(readFileSync(join(config, 'apps/api/overlays/dev/kustomization.yaml'), 'utf8')).toContain('newTag: 3.1.4')
  }, 300_000)
})
