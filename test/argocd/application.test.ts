import {describe, expect, it} from 'vitest'
import {
  appUrl,
  type AppSettings,
  buildApplication,
  canonical,
  changedFields,
  formatChange,
  sameJson,
  upsertBody
} from '../../src/argocd/application.js'
import type {Application} from '../../src/argocd/types.js'
import {parsePluginEnv, parseSyncOptions} from '../../src/commands/argo-upsert.js'
import {swaggerValidator} from '../doubles/argocd-double.js'

const base: AppSettings = {
  name: 'web-dev',
  project: 'shop',
  repo: 'https://git.example.com/org/deploy.git',
  path: 'overlays/dev',
  revision: '3f2c1e9',
  destination: {name: 'dev-cluster', namespace: 'web'},
  plugin: {
    name: 'argocd-vault-plugin-kustomize',
    env: [
      {name: 'IMAGE_NAME', value: 'registry/app'},
      {name: 'IMAGE_TAG', value: '1.4.2'}
    ]
  },
  kustomizeImages: [],
  helmParams: [],
  helmValuesFiles: [],
  syncPolicy: 'automated',
  autoPrune: false,
  selfHeal: false,
  syncOptions: ['ApplyOutOfSyncOnly=true', 'ServerSideApply=true'],
  labels: {},
  annotations: {}
}

describe('buildApplication', () => {
  it('renders the manifest of the reference (declarative path)', () => {
    expect(buildApplication({...base, namespace: 'argocd'})).toEqual({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: {name: 'web-dev', namespace: 'argocd'},
      spec: {
        project: 'shop',
        destination: {name: 'dev-cluster', namespace: 'web'},
        source: {
          repoURL: 'https://git.example.com/org/deploy.git',
          path: 'overlays/dev',
          targetRevision: '3f2c1e9',
          plugin: {
            name: 'argocd-vault-plugin-kustomize',
            env: [
              {name: 'IMAGE_NAME', value: 'registry/app'},
              {name: 'IMAGE_TAG', value: '1.4.2'}
            ]
          }
        },
        syncPolicy: {
          automated: {},
          syncOptions: ['ApplyOutOfSyncOnly=true', 'ServerSideApply=true']
        }
      }
    })
  })

  it('renders prune/selfHeal only when set, helm and kustomize sources, labels', () => {
    const app = buildApplication({
      ...base,
      plugin: undefined,
      helmParams: [{name: 'image.tag', value: '1.2'}],
      helmValuesFiles: ['values-dev.yaml'],
      autoPrune: true,
      syncOptions: undefined,
      labels: {team: 'shop'}
    })
    expect(app.metadata.labels).toEqual({team: 'shop'})
    expect(app.spec.source!.helm).toEqual({
      parameters: [{name: 'image.tag', value: '1.2'}],
      valueFiles: ['values-dev.yaml']
    })
    expect(app.spec.syncPolicy).toEqual({automated: {prune: true}})
    const k = buildApplication({
      ...base,
      plugin: undefined,
      kustomizeImages: ['app=registry/app:1.2'],
      syncPolicy: 'none'
    })
    expect(k.spec.source!.kustomize).toEqual({images: ['app=registry/app:1.2']})
    expect(k.spec.syncPolicy).toEqual({
      syncOptions: ['ApplyOutOfSyncOnly=true', 'ServerSideApply=true']
    })
  })

  it('the REST body (without apiVersion/kind) matches the API schema with no unknown fields', () => {
    const body = upsertBody(base)
    expect(body).not.toHaveProperty('apiVersion')
    expect(swaggerValidator().validate('v1alpha1Application', body)).toEqual([])
    // apiVersion/kind are not in the API's Application schema.
    expect(swaggerValidator().validate('v1alpha1Application', buildApplication(base))).not.toEqual(
      []
    )
  })
})

describe('upsertBody against a live app', () => {
  const live: Application = {
    metadata: {
      name: 'web-dev',
      namespace: 'argocd',
      labels: {team: 'shop'},
      annotations: {owner: 'x'},
      finalizers: ['resources-finalizer.argocd.argoproj.io'],
      resourceVersion: '7'
    },
    spec: {
      project: 'shop',
      destination: {name: 'dev-cluster', namespace: 'web'},
      source: {repoURL: 'old', path: 'p', kustomize: {images: ['a:1']}},
      syncPolicy: {automated: {prune: true}, retry: {limit: 3}, syncOptions: ['Validate=false']},
      ignoreDifferences: [{kind: 'Deployment'}],
      revisionHistoryLimit: 3
    }
  }

  it('keeps metadata and unflagged spec fields, replaces the source wholesale', () => {
    const body = upsertBody(
      {...base, labels: {env: 'dev'}, syncPolicy: undefined, syncOptions: undefined},
      live
    )
    expect(body.metadata).toEqual({
      name: 'web-dev',
      namespace: 'argocd',
      labels: {team: 'shop', env: 'dev'},
      annotations: {owner: 'x'},
      finalizers: ['resources-finalizer.argocd.argoproj.io']
    })
    expect(body.spec.ignoreDifferences).toEqual([{kind: 'Deployment'}])
    expect(body.spec.revisionHistoryLimit).toBe(3)
    expect(body.spec.syncPolicy).toEqual(live.spec.syncPolicy)
    // No kustomize left next to the plugin: that would be "multiple application sources".
    expect(body.spec.source!.kustomize).toBeUndefined()
  })

  it('--sync-policy none removes auto-sync but keeps retry; automated replaces prune/selfHeal', () => {
    expect(
      upsertBody({...base, syncPolicy: 'none', syncOptions: undefined}, live).spec.syncPolicy
    ).toEqual({
      retry: {limit: 3},
      syncOptions: ['Validate=false']
    })
    expect(upsertBody({...base, syncOptions: []}, live).spec.syncPolicy).toEqual({
      automated: {},
      retry: {limit: 3}
    })
  })

  it('lists overwritten fields by path, named lists by name', () => {
    const before = upsertBody(base, live)
    const after = upsertBody(
      {
        ...base,
        plugin: {
          name: base.plugin!.name,
          env: [
            {name: 'IMAGE_NAME', value: 'registry/app'},
            {name: 'IMAGE_TAG', value: '1.5.0'}
          ]
        }
      },
      {...live, spec: before.spec}
    )
    const changes = changedFields({...live, spec: before.spec}, after)
    expect(changes.map(formatChange)).toEqual(['spec.source.plugin.env[IMAGE_TAG]: 1.4.2 -> 1.5.0'])
    expect(changedFields({...live, spec: after.spec}, after)).toEqual([])
  })

  it('treats Go omitempty round-trips as equal but keeps automated {} and enabled:false meaningful', () => {
    expect(sameJson({a: '', b: false, c: [], d: {}}, {})).toBe(true)
    expect(sameJson({automated: {}}, {})).toBe(false)
    expect(sameJson({automated: {enabled: false}}, {automated: {}})).toBe(false)
    expect(canonical({b: 1, a: {y: 2, x: null}})).toEqual({a: {y: 2}, b: 1})
  })
})

describe('flag parsing', () => {
  it('splits sync options on commas, dedupes, refuses non Name=value', () => {
    expect(
      parseSyncOptions([
        'ApplyOutOfSyncOnly=true,ServerSideApply=true',
        'ServerSideApply=true',
        ' CreateNamespace=true '
      ])
    ).toEqual(['ApplyOutOfSyncOnly=true', 'ServerSideApply=true', 'CreateNamespace=true'])
    expect(() => parseSyncOptions(['Prune'])).toThrow(/not Name=value/)
  })

  it('plugin env: unprefixed names, first = splits, last value wins, $ warned', () => {
    const warnings: string[] = []
    const env = parsePluginEnv(
      ['ARGOCD_ENV_IMAGE_TAG=1.0', 'URL=https://x/?a=b', 'IMAGE_TAG=1.1', 'P=a$b'],
      m => warnings.push(m)
    )
    expect(env).toEqual([
      {name: 'IMAGE_TAG', value: '1.1'},
      {name: 'URL', value: 'https://x/?a=b'},
      {name: 'P', value: 'a$b'}
    ])
    expect(warnings.join('\n')).toMatch(/sending IMAGE_TAG[\s\S]*write \$\$ for a literal \$/)
    expect(() => parsePluginEnv(['1BAD=x'], () => undefined)).toThrow(/not a valid variable name/)
    expect(() => parsePluginEnv(['NOVALUE'], () => undefined)).toThrow(/not KEY=VALUE/)
  })

  it('builds the UI url with the app namespace', () => {
    expect(appUrl('https://cd.example.com/argocd/', {name: 'web', namespace: 'team-a'})).toBe(
      'https://cd.example.com/argocd/applications/team-a/web'
    )
    expect(appUrl('https://cd.example.com', {name: 'web'})).toBe(
      'https://cd.example.com/applications/argocd/web'
    )
  })
})
