import {describe, expect, it} from 'vitest'
import {BODY_LIMIT, parseMarker} from '../../src/forge/pr-body.js'
import type {AppPromotion} from '../../src/core/promotion/plan.js'
import {
  renderPromotionBody,
  type PromotionBodyInput,
  type RenderedDiff
} from '../../src/promote/pr-body.js'

const web: AppPromotion = {
  app: 'web',
  status: 'promoted',
  sourceDir: 'apps/web/overlays/dev',
  targetDir: 'apps/web/overlays/staging',
  file: 'apps/web/overlays/staging/kustomization.yaml',
  images: [
    {kind: 'promoted', name: 'ghcr.io/acme/web', before: {newTag: '1.0'}, after: {newTag: '1.1'}},
    {kind: 'unchanged', name: 'fluent/fluent-bit', pin: {newTag: '3.1'}},
    {kind: 'not-in-target', name: 'ghcr.io/acme/sidecar', pin: {newTag: '9'}}
  ],
  files: [
    {
      kind: 'created',
      from: 'apps/web/overlays/dev/a.properties',
      to: 'apps/web/overlays/staging/a.properties'
    }
  ]
}
const batch: AppPromotion = {
  app: 'batch',
  status: 'missing-in-target',
  sourceDir: 'apps/batch/overlays/dev',
  targetDir: 'apps/batch/overlays/staging',
  images: [],
  files: []
}
const api: AppPromotion = {...web, app: 'api', status: 'unchanged', images: [], files: []}

function input(diffs: RenderedDiff[], extra: Partial<PromotionBodyInput> = {}): PromotionBodyInput {
  return {
    from: 'dev',
    to: 'staging',
    branch: 'gitops-deploy/promote/dev-to-staging',
    base: 'main',
    apps: [api, batch, web],
    changes: [{file: web.file!, image: 'ghcr.io/acme/web', before: '1.0', after: '1.1'}],
    diffs,
    ...extra
  }
}

function bigDiff(app: string, lines: number): RenderedDiff {
  const text = ['--- a', '+++ b', `@@ -1,${lines} +1,${lines} @@`]
  for (let i = 0; i < lines; i++)
    text.push(
      `-      - image: ghcr.io/acme/${app}:${i}`,
      `+      - image: ghcr.io/acme/${app}:${i + 1}`
    )
  return {
    app,
    dir: `apps/${app}/overlays/staging`,
    kind: 'diff',
    text: text.join('\n') + '\n',
    added: lines,
    removed: lines
  }
}

describe('promotion PR body', () => {
  it('lists changes, copies, what was left out and why, and the marker', () => {
    const body = renderPromotionBody(
      input([{app: 'web', dir: web.targetDir, kind: 'same'}], {intro: 'Release train 42'})
    )
    expect(body.startsWith('Release train 42\n\nPromotes **dev → staging**: 1 app (`web`).')).toBe(
      true
    )
    expect(body).toContain('| web | `ghcr.io/acme/web` | `1.0` | `1.1` |')
    expect(body).toContain(
      '| web | `apps/web/overlays/staging/a.properties` | (absent) | copy of `apps/web/overlays/dev/a.properties` |'
    )
    expect(body).toContain(
      '- `batch` is not in staging (`apps/batch/overlays/staging` has no kustomization)'
    )
    expect(body).toContain(
      '- `web`: `ghcr.io/acme/sidecar` is pinned in dev (`9`) but not listed in staging'
    )
    expect(body).toContain('- already identical in staging: `api`')
    expect(body).toContain('- `apps/web/overlays/staging`: the rendered manifests do not change')
    expect(body).not.toContain('fluent-bit')
    expect(parseMarker(body)).toMatchObject({
      branch: 'gitops-deploy/promote/dev-to-staging',
      count: 1
    })
  })

  it('cuts a rendered diff that does not fit at a line, with a note, under the 65,536 limit', () => {
    const body = renderPromotionBody(input([bigDiff('web', 3000)]))
    expect(body.length).toBeLessThanOrEqual(BODY_LIMIT)
    expect(body.length).toBeGreaterThan(BODY_LIMIT - 2000)
    expect(body).toMatch(
      /[-+]      - image: ghcr\.io\/acme\/web:\d+\n```\n\n<\/details>\n\n_… rendered diff truncated to fit the 65,536-character limit/
    )
    expect(body).toContain(
      'run `kubectl kustomize apps/web/overlays/staging` on this branch and on the base'
    )
    expect(body).toContain('| web | `ghcr.io/acme/web` | `1.0` | `1.1` |')
    // Truncation must leave the marker whole: the next run finds its PR by it.
    expect(parseMarker(body)).toMatchObject({
      branch: 'gitops-deploy/promote/dev-to-staging',
      count: 1
    })
  })

  it('names the overlays whose diff no longer fits, and keeps whole ones that do', () => {
    const body = renderPromotionBody(
      input([bigDiff('api', 10), bigDiff('web', 3000), bigDiff('worker', 10)])
    )
    expect(body.length).toBeLessThanOrEqual(BODY_LIMIT)
    expect(body).toContain('<summary><code>apps/api/overlays/staging</code> (+10 −10)</summary>')
    expect(body).toContain('Rendered diff not shown for `apps/worker/overlays/staging`')
  })

  it('stays under the limit with thousands of rows, saying how many are only in the commit', () => {
    const many: AppPromotion = {
      ...web,
      images: Array.from({length: 3000}, (_, i) => ({
        kind: 'promoted' as const,
        name: `ghcr.io/acme/image-${i}`,
        before: {newTag: '1.0'},
        after: {newTag: '1.1'}
      })),
      files: []
    }
    const body = renderPromotionBody(input([bigDiff('web', 100)], {apps: [many]}))
    expect(body.length).toBeLessThanOrEqual(BODY_LIMIT)
    expect(body).toMatch(/\| … \| \d+ more changes \| \| see the commit \|/)
    // Truncation must leave the marker whole: the next run finds its PR by it.
    expect(parseMarker(body)).toMatchObject({
      branch: 'gitops-deploy/promote/dev-to-staging',
      count: 1
    })
  })

  it('fences diffs that contain backticks, and shows a render note instead of diffs', () => {
    const tricky: RenderedDiff = {
      app: 'web',
      dir: web.targetDir,
      kind: 'diff',
      text: '+  script: ```run```\n',
      added: 1,
      removed: 0
    }
    expect(renderPromotionBody(input([tricky]))).toContain('````diff\n+  script: ```run```\n````')
    const noted = renderPromotionBody(input([], {renderNote: 'kubectl was not found on PATH'}))
    expect(noted).toContain('### Rendered changes\n\n_kubectl was not found on PATH_')
  })

  it('keeps user text from pinging people or injecting HTML', () => {
    const body = renderPromotionBody(
      input([
        {app: 'web', dir: web.targetDir, kind: 'note', message: 'failed for @acme/team <script>'}
      ])
    )
    expect(body).toContain('@\u200bacme/team &lt;script&gt;')
  })
})

describe('promote job summary and text', () => {
  it('tables each promoted image and names missing and identical apps', async () => {
    const {promoteCommand} = await import('../../src/commands/promote.js')
    const result = {
      mode: 'push' as const,
      from: 'dev',
      to: 'staging',
      outcome: 'pushed' as const,
      changed: true,
      pushed: true,
      commit: 'a'.repeat(40),
      branch: 'main',
      attempts: 1,
      apps: [api, batch, web]
    }
    const summary = promoteCommand.summary(result)
    expect(summary).toContain('### Promote dev → staging')
    expect(summary).toContain('| web | `ghcr.io/acme/web` | `1.0` | `1.1` |')
    expect(summary).toContain('| batch | | not in staging | |')
    expect(summary).toContain('| api | | already identical | |')
    const text = promoteCommand.text(result)
    expect(text.split('\n')[0]).toBe(
      `promoted dev -> staging: commit ${'a'.repeat(12)} on main (1 attempt)`
    )
    expect(text).toContain(
      '  ghcr.io/acme/sidecar: pinned in the source only (9); not added to staging'
    )
    expect(promoteCommand.outputs(result)).toMatchObject({
      changed: 'true',
      'pr-url': '',
      missing: '["batch"]'
    })
    expect(
      promoteCommand.exitCode!({
        ...result,
        outcome: 'rejected',
        rejected: {reason: 'protected', detail: 'x'}
      })
    ).toBe(1)
  })
})
