/**
 * The render check on 1,000 overlays: a platform-wide image bump through a
 * glob, every touched kustomization rendered with the real kubectl
 * kustomize before the write. Ours renders in batches (up to 50 overlays per
 * renderer process, renderLimit() processes at once); the naive way runs one
 * kubectl kustomize per overlay, one after another. Also prints the edit's
 * own cost, so the check's share of a run is visible.
 * BENCH_OVERLAYS overrides the count (default 1000).
 */
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {planEdits, setImageEdit, writeEdits} from '../src/edits/set-image.js'
import {renderCheckGuard, renderLimit} from '../src/edits/render-check.js'
import {kubectlRenderer} from '../src/edits/renderer.js'

const OVERLAYS = Number(process.env.BENCH_OVERLAYS ?? 1000)

const deployment = (app: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${app}
spec:
  template:
    spec:
      containers:
        - name: ${app}
          image: ghcr.io/acme/${app}:1.0.0
        - name: proxy
          image: ghcr.io/acme/proxy:1.0.0
`

async function put(root: string, path: string, text: string): Promise<void> {
  await mkdir(dirname(join(root, path)), {recursive: true})
  await writeFile(join(root, path), text)
}

export async function run(): Promise<void> {
  const probe = await kubectlRenderer().render(tmpdir())
  if (probe.kind === 'unavailable') {
    console.log(`skipped: ${probe.message}`)
    return
  }
  const root = await mkdtemp(join(tmpdir(), 'bench-render-'))
  try {
    for (let i = 0; i < OVERLAYS; i++) {
      const app = `app-${String(i).padStart(4, '0')}`
      await put(root, `apps/${app}/base/kustomization.yaml`, 'resources:\n  - deployment.yaml\n')
      await put(root, `apps/${app}/base/deployment.yaml`, deployment(app))
      await put(
        root,
        `apps/${app}/overlays/prod/kustomization.yaml`,
        'resources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/proxy\n    newTag: 1.0.0\n'
      )
    }
    const request = {
      paths: ['apps/*/overlays/prod'],
      images: ['ghcr.io/acme/proxy:1.1.0'],
      sets: [],
      createKeys: false
    }
    const edit = setImageEdit(request)
    let t = performance.now()
    const outcome = await planEdits(root, request)
    const planMs = performance.now() - t
    const writes = edit.writes(outcome)
    const guard = renderCheckGuard({mode: 'always', renderer: kubectlRenderer()})
    t = performance.now()
    const report = await guard(writes, {mode: 'local', root})
    const ours = performance.now() - t
    if (!report || report.rendered.length !== OVERLAYS) {
      throw new Error('the check did not render every overlay')
    }
    // The naive way: the edit written, then one `kubectl kustomize` per overlay, one after
    // another. Linear in the overlays, so it is timed on a sample and scaled.
    await writeEdits(root, outcome)
    const sample = Math.min(OVERLAYS, 200)
    const renderer = kubectlRenderer()
    t = performance.now()
    for (const f of outcome.files.slice(0, sample)) {
      const r = await renderer.render(join(root, dirname(f.file)))
      if (r.kind !== 'rendered') throw new Error(`naive render failed: ${JSON.stringify(r)}`)
    }
    const naive = ((performance.now() - t) / sample) * OVERLAYS
    console.log(
      `${OVERLAYS} overlays, one image bump through a glob (${outcome.files.length} files):`
    )
    console.log(`  the edit itself (plan, dead-entry scan):  ${planMs.toFixed(0)} ms`)
    console.log(
      `  ours  (render check: batches of up to 50 overlays, ${renderLimit()} processes at once): ${ours.toFixed(0)} ms (${(ours / OVERLAYS).toFixed(1)} ms per overlay)`
    )
    console.log(
      `  naive (kubectl kustomize per overlay, one at a time; ${sample} timed, scaled): ${naive.toFixed(0)} ms`
    )
    console.log(
      `  ratio: ${(naive / ours).toFixed(1)}x faster; the check costs ${(ours / planMs).toFixed(1)}x the edit`
    )
  } finally {
    await rm(root, {recursive: true, force: true})
  }
}
