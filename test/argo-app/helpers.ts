import {parseAllDocuments} from 'yaml'
import {expect} from 'vitest'
import type {AppSettings} from '../../src/argocd/application.js'
import type {ManifestRequest} from '../../src/argocd/manifest.js'
import {swaggerValidator} from '../doubles/argocd-double.js'

export const SOURCE_REPO = 'https://git.example.com/org/deploy.git'
export const IN_CLUSTER = 'https://kubernetes.default.svc'

export function appSettings(over: Partial<AppSettings> = {}): AppSettings {
  return {
    name: 'web-dev',
    project: 'shop',
    repo: SOURCE_REPO,
    path: 'apps/web/overlays/dev',
    revision: 'main',
    destination: {server: IN_CLUSTER, namespace: 'web'},
    plugin: {
      name: 'argocd-vault-plugin-kustomize',
      env: [
        {name: 'AVP_SECRET', value: 'web-vault'},
        {name: 'IMAGE_TAG', value: '1.4.2'}
      ]
    },
    kustomizeImages: [],
    helmParams: [],
    helmValuesFiles: [],
    autoPrune: false,
    selfHeal: false,
    labels: {},
    annotations: {},
    ...over
  }
}

export function request(
  over: Partial<AppSettings> = {},
  finalizers: string[] = []
): ManifestRequest {
  return {app: appSettings(over), finalizers}
}

/**
 * Checks a manifest the way the API server's decoder would see it: the
 * Application document against the swagger subset's v1alpha1Application
 * with unknown fields rejected (apiVersion/kind are the CRD's envelope, not
 * part of that definition, so they are checked here).
 */
export function expectValidApplication(text: string, name = 'web-dev'): Record<string, any> {
  const docs = parseAllDocuments(text)
  const apps = (Array.isArray(docs) ? docs : [])
    .map(d => d.toJS() as Record<string, any>)
    .filter(js => js?.kind === 'Application' && js?.metadata?.name === name)
  expect(apps).toHaveLength(1)
  const {apiVersion, kind, ...rest} = apps[0]
  expect(apiVersion).toBe('argoproj.io/v1alpha1')
  expect(kind).toBe('Application')
  expect(swaggerValidator().validate('v1alpha1Application', rest)).toEqual([])
  return apps[0]
}

export {cli} from '../helpers/cli.js'

/** The Application flags of the default `appSettings()`, for CLI tests. */
export function appArgs(tag = '1.4.2'): string[] {
  return [
    '--app',
    'web-dev',
    '--project',
    'shop',
    '--source-repo',
    SOURCE_REPO,
    '--path',
    'apps/web/overlays/dev',
    '--revision',
    'main',
    '--dest-server',
    IN_CLUSTER,
    '--dest-namespace',
    'web',
    '--plugin',
    'argocd-vault-plugin-kustomize',
    '--plugin-env',
    'AVP_SECRET=web-vault',
    '--plugin-env',
    `IMAGE_TAG=${tag}`
  ]
}
