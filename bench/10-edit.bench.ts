/**
 * `set-image` on a local tree: one overlay, then a 1,000-overlay glob in ONE
 * process, against the shell-loop approach (one CLI process per directory,
 * `for d in ...; do gitops-deploy set-image -C "$d" ...; done`), which is what
 * people do with `kustomize edit set image`. Both run the same bundled CLI
 * (built here with esbuild, so the numbers do not depend on a stale dist/).
 * The loop is timed on a sample of directories and scaled to 1,000; the
 * sample size is printed with the result.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {build} from 'esbuild'
import {planEdits, writeEdits} from '../src/edits/set-image.js'

const OVERLAYS = Number(process.env.BENCH_EDIT_OVERLAYS ?? 1000)
const LOOP_SAMPLE = Math.min(OVERLAYS, Number(process.env.BENCH_EDIT_LOOP_SAMPLE ?? 100))

const KUSTOMIZATION = (app: number) => `# Production overlay for app ${app}.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: app-${app}   # keep in sync with Argo CD

resources:
  - ../../base
  - ingress.yaml

images:
  # the storefront, bumped by CI
  - name: web
    newName: registry.example.com/app-${app}/web
    newTag: "1.0.0"   # CI
  - name: worker
    newTag: '1.0.0'

patches:
  - path: replicas.yaml
`

function ms(t: number): string {
  return `${t.toFixed(0)} ms`
}

function time(fn: () => void): number {
  const t = performance.now()
  fn()
  return performance.now() - t
}

async function timeAsync(fn: () => Promise<void>): Promise<number> {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

export async function run(): Promise<void> {
  const repoRoot = resolve(import.meta.dirname, '..')
  const work = join(repoRoot, '.tmp', 'bench-edit')
  rmSync(work, {recursive: true, force: true})
  const tree = join(work, 'config')
  for (let app = 0; app < OVERLAYS; app++) {
    for (const env of ['staging', 'production']) {
      const dir = join(tree, 'apps', `app-${app}`, 'overlays', env)
      mkdirSync(dir, {recursive: true})
      writeFileSync(join(dir, 'kustomization.yaml'), KUSTOMIZATION(app))
    }
    mkdirSync(join(tree, 'apps', `app-${app}`, 'base'), {recursive: true})
  }
  const cli = join(work, 'cli.mjs')
  await build({
    entryPoints: [join(repoRoot, 'src', 'cli.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: cli,
    logLevel: 'error',
    banner: {
      js: "import {createRequire as __cr} from 'node:module'; const require = __cr(import.meta.url);"
    }
  })
  const node = process.execPath
  const runCli = (args: string[]) =>
    execFileSync(node, [cli, 'set-image', ...args], {encoding: 'utf8'})

  console.log(
    `tree: ${OVERLAYS} apps x 2 overlays; CLI bundled with esbuild; node ${process.version}`
  )

  // Warm the file cache and check the bundle works before timing anything.
  runCli(['-C', tree, '--path', 'apps/app-0/overlays/production', '--image', 'web=*:0.9.9'])

  const one = time(() =>
    runCli(['-C', tree, '--path', 'apps/app-0/overlays/production', '--image', 'web=*:1.0.1'])
  )
  console.log(`one overlay, one process:                 ${ms(one)}`)

  const glob = time(() =>
    runCli(['-C', tree, '--path', 'apps/*/overlays/production', '--image', 'web=*:1.0.2'])
  )
  const sample = readFileSync(
    join(tree, 'apps/app-1/overlays/production/kustomization.yaml'),
    'utf8'
  )
  if (!sample.includes('newTag: "1.0.2"   # CI')) throw new Error('the glob run did not edit app-1')
  console.log(`${OVERLAYS} overlays, one process (glob):      ${ms(glob)}`)

  const dirs = Array.from({length: LOOP_SAMPLE}, (_, i) =>
    join(tree, 'apps', `app-${i}`, 'overlays', 'production')
  )
  const script = `for d in "$@"; do "${node}" "${cli}" set-image -C "$d" --path . --image 'web=*:1.0.3' >/dev/null || exit 1; done`
  const loop = time(() => execFileSync('sh', ['-c', script, 'loop', ...dirs], {stdio: 'inherit'}))
  const perDir = loop / LOOP_SAMPLE
  const projected = perDir * OVERLAYS
  console.log(
    `shell loop, one process per directory:    ${ms(loop)} for ${LOOP_SAMPLE} dirs (${ms(perDir)}/dir) -> ${ms(projected)} for ${OVERLAYS}`
  )

  const inProcess = await timeAsync(async () => {
    const outcome = await planEdits(tree, {
      paths: ['apps/*/overlays/production'],
      images: ['web=*:1.0.4'],
      sets: [],
      createKeys: false
    })
    await writeEdits(tree, outcome)
  })
  console.log(`${OVERLAYS} overlays, in-process planEdits+writeEdits: ${ms(inProcess)}`)

  console.log(
    `ratio: shell loop / one-process glob = ${(projected / glob).toFixed(1)}x faster for ${OVERLAYS} overlays; ` +
      `one overlay costs ${(one / perDir).toFixed(2)}x a loop iteration`
  )
  rmSync(work, {recursive: true, force: true})
}
