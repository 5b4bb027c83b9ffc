import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'
import {formatChange} from '../../src/argocd/application.js'
import {MANIFEST_HEADER, mergeManifest, renderManifest} from '../../src/argocd/manifest.js'
import {UsageError} from '../../src/core/errors.js'
import {IN_CLUSTER, SOURCE_REPO, expectValidApplication, request} from './helpers.js'

/** A manifest as a person keeps it: comments, their own key order, fields we have no flag for. */
const HAND = `# web in dev; owned by team payments
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web-dev # do not rename: the parent prunes by name
  namespace: argocd
  labels:
    owner: alice
  annotations:
    notifications.argoproj.io/subscribe.on-sync-failed.slack: web-alerts
  finalizers:
  - resources-finalizer.argocd.argoproj.io
spec:
  project: shop
  source:
    repoURL: ${SOURCE_REPO}
    path: apps/web/overlays/dev
    targetRevision: main
    plugin:
      name: argocd-vault-plugin-kustomize
      env:
      - name: AVP_SECRET
        value: web-vault
      - name: IMAGE_TAG
        value: "1.4.1" # bumped by CI
  destination:
    server: ${IN_CLUSTER}
    namespace: web
  # HPA owns replicas
  ignoreDifferences:
  - group: apps
    kind: Deployment
    jsonPointers:
    - /spec/replicas
  syncPolicy:
    automated:
      prune: true
      allowEmpty: true
    retry:
      limit: 3
  info:
  - name: runbook
    value: https://wiki.example.com/web
`

function merge(text: string | undefined, req = request(), label = 'argocd/apps/web-dev.yaml') {
  return mergeManifest(text, req, label)
}

function usageError(fn: () => unknown): UsageError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError)
    return e as UsageError
  }
  throw new Error('expected a UsageError')
}

describe('new manifests', () => {
  it('renders a header comment and an Application that matches the API schema', () => {
    const text = renderManifest(
      request(
        {
          namespace: 'argocd',
          labels: {team: 'payments', 'app.kubernetes.io/part-of': 'web'},
          annotations: {'argocd.argoproj.io/sync-wave': '5'},
          syncPolicy: 'automated',
          autoPrune: true,
          selfHeal: true,
          syncOptions: ['ServerSideApply=true', 'CreateNamespace=true']
        },
        ['resources-finalizer.argocd.argoproj.io']
      )
    )
    expect(text.split('\n').slice(0, 2)).toEqual(MANIFEST_HEADER)
    expect(text).toContain('    argocd.argoproj.io/sync-wave: "5"\n')
    const app = expectValidApplication(text)
    expect(app).toEqual({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: {
        name: 'web-dev',
        namespace: 'argocd',
        labels: {team: 'payments', 'app.kubernetes.io/part-of': 'web'},
        annotations: {'argocd.argoproj.io/sync-wave': '5'},
        finalizers: ['resources-finalizer.argocd.argoproj.io']
      },
      spec: {
        project: 'shop',
        destination: {server: IN_CLUSTER, namespace: 'web'},
        source: {
          repoURL: SOURCE_REPO,
          path: 'apps/web/overlays/dev',
          targetRevision: 'main',
          plugin: {
            name: 'argocd-vault-plugin-kustomize',
            env: [
              {name: 'AVP_SECRET', value: 'web-vault'},
              {name: 'IMAGE_TAG', value: '1.4.2'}
            ]
          }
        },
        syncPolicy: {
          automated: {prune: true, selfHeal: true},
          syncOptions: ['ServerSideApply=true', 'CreateNamespace=true']
        }
      }
    })
  })

  it('keeps strings strings: tags, yes/no and numbers are quoted where YAML would retype them', () => {
    const text = renderManifest(
      request({
        plugin: undefined,
        helmParams: [
          {name: 'image.tag', value: '1.10'},
          {name: 'enabled', value: 'yes'},
          {name: 'replicas', value: '3'}
        ],
        helmValuesFiles: ['values-dev.yaml'],
        labels: {canary: 'true'},
        revision: '0123'
      })
    )
    const app = expectValidApplication(text)
    expect(app.spec.source.helm.parameters).toEqual([
      {name: 'image.tag', value: '1.10'},
      {name: 'enabled', value: 'yes'},
      {name: 'replicas', value: '3'}
    ])
    expect(app.metadata.labels.canary).toBe('true')
    expect(app.spec.source.targetRevision).toBe('0123')
    expect(text).toContain('value: "yes"')
  })

  it('renders kustomize images and a destination by name, also valid', () => {
    const text = renderManifest(
      request({
        plugin: undefined,
        kustomizeImages: ['ghcr.io/acme/web=ghcr.io/acme/web:1.4.2'],
        destination: {name: 'prod-eu', namespace: 'web'},
        syncPolicy: 'automated'
      })
    )
    const app = expectValidApplication(text)
    expect(app.spec.destination).toEqual({name: 'prod-eu', namespace: 'web'})
    expect(app.spec.syncPolicy).toEqual({automated: {}})
    expect(app.spec.source.kustomize.images).toEqual(['ghcr.io/acme/web=ghcr.io/acme/web:1.4.2'])
  })

  it('treats a missing file as created and fills a comment-only file below its comments', () => {
    expect(merge(undefined).kind).toBe('created')
    const r = merge('# reserved for web-dev\n')
    expect(r.kind).toBe('created')
    expect(r.text.startsWith('# reserved for web-dev\n# Argo CD Application managed')).toBe(true)
    expectValidApplication(r.text)
  })

  it('re-running on its own output changes nothing', () => {
    const req = request({syncPolicy: 'automated', autoPrune: true, labels: {team: 'payments'}})
    const text = renderManifest(req)
    const again = merge(text, req)
    expect(again).toEqual({kind: 'unchanged', text, changes: []})
  })
})

describe('updating a manifest kept by hand', () => {
  it('changes only the plugin env value: comments, order and hand-added fields stay byte for byte', () => {
    const r = merge(HAND)
    expect(r.kind).toBe('updated')
    expect(r.text).toBe(
      HAND.replace('value: "1.4.1" # bumped by CI', 'value: "1.4.2" # bumped by CI')
    )
    expect(r.changes.map(formatChange)).toEqual([
      'spec.source.plugin.env[IMAGE_TAG]: 1.4.1 -> 1.4.2'
    ])
    expectValidApplication(r.text)
  })

  it('reports unchanged and returns the same text when the flags match the file', () => {
    const same = HAND.replace('"1.4.1"', '"1.4.2"')
    expect(merge(same)).toEqual({kind: 'unchanged', text: same, changes: []})
  })

  it('replaces plugin env as a whole list: entries the flags no longer give are removed', () => {
    const r = merge(
      HAND,
      request({
        plugin: {name: 'argocd-vault-plugin-kustomize', env: [{name: 'IMAGE_TAG', value: '2.0.0'}]}
      })
    )
    expect(r.text).toContain(
      '      env:\n      - name: IMAGE_TAG\n        value: 2.0.0\n  destination:'
    )
    expect(r.changes.map(formatChange)).toEqual([
      'spec.source.plugin.env[AVP_SECRET]: web-vault -> (unset)',
      'spec.source.plugin.env[IMAGE_TAG]: 1.4.1 -> 2.0.0'
    ])
    // Everything outside the owned list is untouched.
    const [head] = HAND.split('      env:\n')
    expect(r.text.startsWith(head)).toBe(true)
    expect(r.text.endsWith(HAND.slice(HAND.indexOf('  destination:')))).toBe(true)
  })

  it('adds labels, annotations and finalizers next to the ones written by hand', () => {
    const r = merge(
      HAND,
      request(
        {labels: {team: 'payments', canary: 'true'}, annotations: {'example.com/ticket': 'OPS-1'}},
        ['resources-finalizer.argocd.argoproj.io', 'example.com/cleanup']
      )
    )
    expect(r.text).toContain(
      [
        '  labels:',
        '    owner: alice',
        '    team: payments',
        '    canary: "true"',
        '  annotations:',
        '    notifications.argoproj.io/subscribe.on-sync-failed.slack: web-alerts',
        '    example.com/ticket: OPS-1',
        '  finalizers:',
        '  - resources-finalizer.argocd.argoproj.io',
        '  - example.com/cleanup',
        'spec:'
      ].join('\n')
    )
    expectValidApplication(r.text)
  })

  it('a label written as a bare true is rewritten as the string Kubernetes requires', () => {
    const text = HAND.replace('    owner: alice\n', '    owner: alice\n    canary: true\n')
    const r = merge(text, request({labels: {canary: 'true'}}))
    expect(r.text).toContain('    canary: "true"\n')
    expect(parse(r.text).metadata.labels.canary).toBe('true')
  })

  it('--sync-policy none drops automated and keeps retry; omitted keeps the policy as it is', () => {
    const none = merge(HAND, request({syncPolicy: 'none'}))
    expect(none.text).toContain('  syncPolicy:\n    retry:\n      limit: 3\n  info:')
    expect(none.changes.map(formatChange)).toContain(
      'spec.syncPolicy.automated: {"allowEmpty":true,"prune":true} -> (unset)'
    )
    const kept = merge(HAND, request())
    expect(kept.text).toContain('    automated:\n      prune: true\n      allowEmpty: true\n')
  })

  it('--sync-policy automated sets prune/selfHeal as the flags say and keeps allowEmpty', () => {
    const r = merge(HAND, request({syncPolicy: 'automated', selfHeal: true}))
    expect(r.text).toContain(
      '  syncPolicy:\n    automated:\n      allowEmpty: true\n      selfHeal: true\n    retry:'
    )
    expectValidApplication(r.text)
  })

  it('removes a syncPolicy it emptied, and adds syncOptions as a list in the file indentation', () => {
    const bare = HAND.replace('    retry:\n      limit: 3\n', '')
    const none = merge(bare, request({syncPolicy: 'none'}))
    expect(none.text).not.toContain('syncPolicy')
    expect(none.text).toContain('    - /spec/replicas\n  info:\n')
    const opts = merge(bare, request({syncOptions: ['ServerSideApply=true']}))
    expect(opts.text).toContain(
      '      allowEmpty: true\n    syncOptions:\n    - ServerSideApply=true\n  info:'
    )
  })

  it('switching the destination to a cluster name removes server (the two exclude each other)', () => {
    const r = merge(HAND, request({destination: {name: 'prod-eu', namespace: 'web'}}))
    expect(r.text).toContain('  destination:\n    namespace: web\n    name: prod-eu\n  # HPA')
    expect(expectValidApplication(r.text).spec.destination).toEqual({
      name: 'prod-eu',
      namespace: 'web'
    })
  })

  it('switching to kustomize images removes the plugin block but keeps other kustomize settings', () => {
    const text = HAND.replace(
      '    plugin:\n',
      '    kustomize:\n      namePrefix: dev-\n    plugin:\n'
    )
    const r = merge(text, request({plugin: undefined, kustomizeImages: ['ghcr.io/acme/web:1.5.0']}))
    expect(r.text).toContain(
      '    kustomize:\n      namePrefix: dev-\n      images:\n      - ghcr.io/acme/web:1.5.0\n  destination:'
    )
    expect(r.text).not.toContain('plugin')
    expectValidApplication(r.text)
  })

  it('edits list items in place and appends new ones, so item comments survive', () => {
    const env = [
      {name: 'AVP_SECRET', value: 'web-vault'},
      {name: 'IMAGE_TAG', value: '1.5.0'},
      {name: 'IMAGE_NAME', value: 'ghcr.io/acme/web'}
    ]
    const r = merge(
      HAND,
      request({plugin: {name: 'argocd-vault-plugin-kustomize', env}}, ['example.com/cleanup'])
    )
    expect(r.text).toContain(
      [
        '      - name: IMAGE_TAG',
        '        value: "1.5.0" # bumped by CI',
        '      - name: IMAGE_NAME',
        '        value: ghcr.io/acme/web',
        '  destination:'
      ].join('\n')
    )
    expect(r.text).toContain(
      '  finalizers:\n  - resources-finalizer.argocd.argoproj.io\n  - example.com/cleanup\nspec:'
    )
    expect(r.changes.map(formatChange)).toEqual([
      'metadata.finalizers: ["resources-finalizer.argocd.argoproj.io"] -> ["resources-finalizer.argocd.argoproj.io","example.com/cleanup"]',
      'spec.source.plugin.env[IMAGE_TAG]: 1.4.1 -> 1.5.0',
      'spec.source.plugin.env[IMAGE_NAME]: (unset) -> ghcr.io/acme/web'
    ])
    expectValidApplication(r.text)
  })

  it('edits flow-style mappings and lists in flow style', () => {
    const text = HAND.replace(
      '  labels:\n    owner: alice\n',
      '  labels: {owner: alice}\n'
    ).replace('    retry:\n', '    syncOptions: [CreateNamespace=true]\n    retry:\n')
    const r = merge(
      text,
      request({
        labels: {team: 'payments'},
        syncOptions: ['ServerSideApply=true', 'CreateNamespace=true']
      })
    )
    expect(r.text).toContain('  labels: {owner: alice, team: payments}\n')
    expect(r.text).toContain('    syncOptions: [ServerSideApply=true, CreateNamespace=true]\n')
  })

  it('keeps CRLF line endings and 4-space indentation', () => {
    const four = [
      'apiVersion: argoproj.io/v1alpha1',
      'kind: Application',
      'metadata:',
      '    name: web-dev',
      '    labels:',
      '        owner: alice',
      'spec:',
      '    project: shop',
      '    source:',
      `        repoURL: ${SOURCE_REPO}`,
      '        path: apps/web/overlays/dev',
      '        targetRevision: main',
      '    destination:',
      `        server: ${IN_CLUSTER}`,
      '        namespace: web',
      ''
    ].join('\r\n')
    const r = merge(four, request({labels: {team: 'payments'}}, ['example.com/cleanup']))
    expect(r.text).toContain('        owner: alice\r\n        team: payments\r\n')
    expect(r.text).toContain('    finalizers:\r\n        - example.com/cleanup\r\nspec:')
    expect(r.text).toContain(
      '        plugin:\r\n            name: argocd-vault-plugin-kustomize\r\n            env:\r\n                - name: AVP_SECRET\r\n'
    )
    expect(r.text.replace(/\r\n/g, '')).not.toContain('\n')
    expectValidApplication(r.text)
  })

  it('edits only the matching Application in a multi-document file', () => {
    const other = '---\napiVersion: v1\nkind: ConfigMap # unrelated\nmetadata:\n  name: web-dev\n'
    const twin = `---\n${HAND.replace('name: web-dev #', 'name: api-dev #')}`
    const text = `${other}---\n${HAND}${twin}`
    const r = merge(text)
    expect(r.kind).toBe('updated')
    expect(r.text).toBe(`${other}---\n${HAND.replace('"1.4.1"', '"1.4.2"')}${twin}`)
  })
})

describe('files argo-app refuses (exit 2, nothing written)', () => {
  it('another kind', () => {
    const e = usageError(() =>
      merge('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-dev\n')
    )
    expect(e.message).toBe(
      "argocd/apps/web-dev.yaml holds v1 ConfigMap, not an Argo CD Application (argoproj.io/v1alpha1); point --manifest at web-dev's own file (a path that does not exist yet is created)"
    )
  })

  it('an Application of another API group', () => {
    const e = usageError(() => merge(HAND.replace('argoproj.io/v1alpha1', 'app.k8s.io/v1beta1')))
    expect(e.message).toContain('holds app.k8s.io/v1beta1 Application, not an Argo CD Application')
  })

  it('another Application: rewriting it would replace that app', () => {
    const e = usageError(() => merge(HAND.replace('name: web-dev #', 'name: api-dev #')))
    expect(e.message).toContain("holds Application 'api-dev', not 'web-dev'")
    expect(e.message).toContain('--app api-dev')
  })

  it('several documents, none the Application named --app', () => {
    const e = usageError(() =>
      merge(
        'kind: ConfigMap\napiVersion: v1\n---\n' +
          HAND.replace('name: web-dev #', 'name: api-dev #')
      )
    )
    expect(e.message).toContain(
      "has 2 documents and none is an Argo CD Application named 'web-dev' (found: v1 ConfigMap, argoproj.io/v1alpha1 Application)"
    )
  })

  it('the same Application twice', () => {
    const e = usageError(() => merge(`${HAND}---\n${HAND}`))
    expect(e.message).toContain("holds 2 Applications named 'web-dev'")
  })

  it('a multi-source Application', () => {
    const text = HAND.replace('  source:\n', '  sources:\n  - repoURL: x\n  source:\n')
    expect(usageError(() => merge(text)).message).toContain('spec.sources (multi-source)')
  })

  it('a path through a YAML alias', () => {
    const text = HAND.replace(
      '  labels:\n    owner: alice\n',
      '  labels: &l\n    owner: alice\n'
    ).replace('  finalizers:', '  annotations2: *l\n  finalizers:')
    // The alias is not on a path we edit: fine.
    expect(merge(text).kind).toBe('updated')
    const aliased = HAND.replace('  project: shop\n', '  project: &p shop\n').replace(
      '    namespace: web\n',
      '    namespace: *p\n'
    )
    expect(usageError(() => merge(aliased)).message).toContain(
      'spec.destination.namespace goes through a YAML alias (*p)'
    )
  })

  it('malformed YAML names the line', () => {
    const e = usageError(() => merge('apiVersion: argoproj.io/v1alpha1\nkind: [Application\n'))
    expect(e.message).toMatch(/^argocd\/apps\/web-dev\.yaml: malformed YAML at line \d+/)
  })
})
