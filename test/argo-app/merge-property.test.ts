import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'
import type {AppSettings} from '../../src/argocd/application.js'
import {mergeManifest, renderManifest, type ManifestRequest} from '../../src/argocd/manifest.js'
import {IN_CLUSTER, appSettings, expectValidApplication} from './helpers.js'

/** Small deterministic PRNG (mulberry32), so a failure names a reproducible seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomRequest(r: () => number): ManifestRequest {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]
  const some = <T>(xs: T[]): T[] => xs.filter(() => r() < 0.5)
  const tag = pick(['1.4.2', '1.10', 'yes', '2.0.0-rc.1', 'main-3f2a9c1'])
  const tool = pick(['plugin', 'kustomize', 'helm', 'none'])
  const policy = pick<AppSettings['syncPolicy']>(['automated', 'none', undefined])
  const over: Partial<AppSettings> = {
    revision: pick(['main', 'HEAD', '0123', 'v1.2']),
    destination:
      r() < 0.5
        ? {server: IN_CLUSTER, namespace: 'web'}
        : {name: 'prod-eu', namespace: pick(['web', 'web-2'])},
    plugin:
      tool === 'plugin'
        ? {
            name: 'avp',
            env: some([
              {name: 'IMAGE_TAG', value: tag},
              {name: 'AVP_SECRET', value: 'web-vault'},
              {name: 'X', value: 'true'}
            ])
          }
        : undefined,
    kustomizeImages:
      tool === 'kustomize' ? [`ghcr.io/acme/web:${tag}`, ...some(['ghcr.io/acme/side:1'])] : [],
    helmParams: tool === 'helm' ? [{name: 'image.tag', value: tag}] : [],
    helmValuesFiles: tool === 'helm' ? some(['values-dev.yaml']) : [],
    syncPolicy: policy,
    autoPrune: policy === 'automated' && r() < 0.5,
    selfHeal: policy === 'automated' && r() < 0.5,
    syncOptions:
      r() < 0.5 ? ['ServerSideApply=true', ...some(['CreateNamespace=true'])] : undefined,
    labels: Object.fromEntries(
      some([
        ['team', 'payments'],
        ['canary', 'true'],
        ['owner', pick(['bob', 'alice'])]
      ])
    ),
    annotations: Object.fromEntries(some([['example.com/ticket', 'OPS-1']]))
  }
  return {
    app: appSettings(over),
    finalizers: some(['resources-finalizer.argocd.argoproj.io', 'example.com/x'])
  }
}

const HAND_FIELDS = `  # HPA owns replicas
  ignoreDifferences:
  - group: apps
    kind: Deployment
    jsonPointers: [/spec/replicas]
  info:
  - name: runbook
    value: https://wiki.example.com/web
`

/** Starting points in several layouts: generated, hand-kept indentless, flow-heavy, CRLF. */
function bases(r: () => number): string[] {
  const generated =
    renderManifest(randomRequest(r)) +
    HAND_FIELDS.replace(/^  - /gm, '    - ').replace(
      /^    (kind|jsonPointers|value):/gm,
      '      $1:'
    )
  const indentless = [
    '# hand-kept',
    'apiVersion: argoproj.io/v1alpha1',
    'kind: Application',
    'metadata:',
    '  name: web-dev # keep',
    '  labels: {owner: alice}',
    'spec:',
    '  project: default',
    '  source:',
    '    repoURL: https://git.example.com/org/deploy.git',
    '    path: apps/web/overlays/dev',
    '    targetRevision: main',
    '    kustomize:',
    '      namePrefix: dev-',
    '  destination: {name: in-cluster, namespace: web}',
    '  syncPolicy:',
    '    syncOptions: [CreateNamespace=true]',
    '    retry: {limit: 2}',
    HAND_FIELDS
  ].join('\n')
  return [generated, indentless, indentless.replace(/\n/g, '\r\n')]
}

describe('merge properties over random flag sets and file layouts', () => {
  it('always yields a valid Application equal to the flags, keeps hand fields, and is idempotent', () => {
    const r = rng(20240611)
    for (let i = 0; i < 150; i++) {
      for (const base of bases(r)) {
        const req = randomRequest(r)
        const context = `case ${i}: ${JSON.stringify(req)}\n${base}`
        let once
        try {
          once = mergeManifest(base, req, 'm.yaml')
        } catch (e) {
          throw new Error(`${(e as Error).message}\n${context}`)
        }
        const app = expectValidApplication(once.text)
        const s = req.app
        expect(app.spec.project, context).toBe(s.project)
        expect(app.spec.source.targetRevision, context).toBe(s.revision)
        expect(app.spec.destination, context).toEqual(s.destination)
        const tools = ['plugin', 'kustomize', 'helm', 'directory'].filter(t => t in app.spec.source)
        if (s.plugin) expect(tools, context).toEqual(['plugin'])
        if (s.kustomizeImages.length) expect(tools, context).toEqual(['kustomize'])
        if (s.helmParams.length) expect(tools, context).toEqual(['helm'])
        const automated = app.spec.syncPolicy?.automated
        if (s.syncPolicy === 'none') expect(automated, context).toBeUndefined()
        if (s.syncPolicy === 'automated') {
          expect(automated?.prune === true, context).toBe(s.autoPrune)
          expect(automated?.selfHeal === true, context).toBe(s.selfHeal)
        }
        if (s.plugin) expect(app.spec.source.plugin.env ?? [], context).toEqual(s.plugin.env)
        if (s.kustomizeImages.length)
          expect(app.spec.source.kustomize.images, context).toEqual(s.kustomizeImages)
        if (s.syncOptions) expect(app.spec.syncPolicy.syncOptions, context).toEqual(s.syncOptions)
        for (const [k, v] of Object.entries(s.labels))
          expect(app.metadata.labels[k], context).toBe(v)
        for (const f of req.finalizers) expect(app.metadata.finalizers, context).toContain(f)
        expect(app.spec.ignoreDifferences, context).toEqual(
          parse(HAND_FIELDS.replace(/^  /gm, '')).ignoreDifferences
        )
        expect(once.text, context).toContain('# HPA owns replicas')
        const eol = base.includes('\r\n') ? '\r\n' : '\n'
        expect(once.text.split(eol).join('').includes('\n'), context).toBe(false)
        const twice = mergeManifest(once.text, req, 'm.yaml')
        expect(twice.kind, context).toBe('unchanged')
      }
    }
  })
})
