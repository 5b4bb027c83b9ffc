import {cpSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {kubectlRenderer, maskSecrets} from '../../src/promote/render.js'
import {missingTool} from '../helpers/tools.js'

describe('secret masking', () => {
  it('replaces Secret values with a hash and leaves other documents byte for byte', () => {
    const rendered =
      'apiVersion: v1\ndata:\n  password: c2VjcmV0\nkind: Secret\nmetadata:\n  name: db\n---\napiVersion: v1\ndata:\n  password: not-a-secret # keep\nkind: ConfigMap\nmetadata:\n  name: cm\n'
    const masked = maskSecrets(rendered)
    expect(masked).not.toContain('c2VjcmV0')
    expect(masked).toMatch(/password: redacted sha256:[0-9a-f]{12} \(8 chars\)\n/)
    expect(masked).toContain(
      '---\napiVersion: v1\ndata:\n  password: not-a-secret # keep\nkind: ConfigMap'
    )
    expect(maskSecrets(rendered.replace('c2VjcmV0', 'b3RoZXI='))).not.toBe(masked)
  })
})

const noKubectl = missingTool('kubectl')

describe.skipIf(noKubectl)('kubectl kustomize renderer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gitops-render-'))
  cpSync(new URL('../../examples/config-repo', import.meta.url), dir, {recursive: true})
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('renders an overlay with its base, and reports a broken one with the cause', async () => {
    const r = kubectlRenderer()
    const ok = await r.render(join(dir, 'apps/web/overlays/production'))
    expect(ok.kind).toBe('rendered')
    if (ok.kind === 'rendered')
      expect(ok.yaml).toContain('image: registry.acme.example/mirror/web:1.4.1')
    writeFileSync(
      join(dir, 'apps/web/overlays/production/kustomization.yaml'),
      'resources:\n  - ../../nowhere\n'
    )
    const bad = await r.render(join(dir, 'apps/web/overlays/production'))
    expect(bad.kind).toBe('failed')
    if (bad.kind === 'failed') expect(bad.message).toMatch(/nowhere/)
  })
})

describe('renderer without kubectl', () => {
  it('says how to get the diff instead of failing', async () => {
    const r = kubectlRenderer({kubectl: '/nonexistent/kubectl'})
    const res = await r.render(tmpdir())
    expect(res).toEqual({
      kind: 'unavailable',
      message: expect.stringMatching(/kubectl was not found.*install kubectl/)
    })
  })
})
