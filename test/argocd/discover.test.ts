import {describe, expect, it} from 'vitest'
import {matchApps, normaliseRepoUrl, type ChangeTarget} from '../../src/argocd/discover.js'
import type {Application, ApplicationSource} from '../../src/argocd/types.js'

const REPO = 'https://github.com/acme/config.git'
const COMMIT = 'a'.repeat(40)

function app(
  name: string,
  source: Partial<ApplicationSource> | Partial<ApplicationSource>[]
): Application {
  const spec = Array.isArray(source)
    ? {sources: source.map(s => ({repoURL: REPO, ...s}))}
    : {source: {repoURL: REPO, ...source}}
  return {
    metadata: {name, namespace: 'argocd'},
    spec: {project: 'shop', destination: {server: 'https://kubernetes.default.svc'}, ...spec}
  } as Application
}

const target = (over: Partial<ChangeTarget> = {}): ChangeTarget => ({
  repo: REPO,
  branch: 'main',
  defaultBranch: 'main',
  commit: COMMIT,
  paths: ['apps/web/overlays/staging/kustomization.yaml'],
  ...over
})

describe('normaliseRepoUrl', () => {
  it('gives one spelling for the https, ssh, scp-like and .git variants of a repo', () => {
    const spellings = [
      'https://github.com/acme/config.git',
      'https://github.com/Acme/Config',
      'https://github.com/acme/config/',
      'https://user@github.com/acme/config.git',
      'git@github.com:acme/config.git',
      'ssh://git@github.com/acme/config',
      'ssh://git@github.com:22/acme/config.git'
    ]
    expect(new Set(spellings.map(normaliseRepoUrl))).toEqual(new Set(['github.com/acme/config']))
  })

  it('keeps different repos, hosts and ports apart', () => {
    expect(normaliseRepoUrl('https://github.com/acme/config2')).not.toBe(normaliseRepoUrl(REPO))
    expect(normaliseRepoUrl('https://gitlab.com/acme/config')).not.toBe(normaliseRepoUrl(REPO))
    expect(normaliseRepoUrl('https://git.example.com:8443/acme/config')).not.toBe(
      normaliseRepoUrl('https://git.example.com/acme/config')
    )
  })
})

describe('matchApps', () => {
  it('matches the overlay app and an ancestor-path app, and says why the others do not deploy the change', () => {
    const apps = [
      app('web-staging', {path: 'apps/web/overlays/staging', targetRevision: 'main'}),
      app('web-prod', {path: 'apps/web/overlays/prod', targetRevision: 'main'}),
      app('all-web', {path: 'apps/web', targetRevision: 'HEAD'}),
      app('web-release', {path: 'apps/web/overlays/staging', targetRevision: 'release'}),
      app('web-pinned', {path: 'apps/web/overlays/staging', targetRevision: 'v1.4.0'}),
      app('web-sha', {path: 'apps/web/overlays/staging', targetRevision: 'b'.repeat(40)}),
      app('other-repo', {
        repoURL: 'https://github.com/acme/other.git',
        path: 'apps/web/overlays/staging'
      })
    ]
    const r = matchApps(apps, target())
    expect(r.matched.map(m => m.app.metadata.name)).toEqual(['web-staging', 'all-web'])
    expect(r.matched[0].reason).toBe(
      'path apps/web/overlays/staging holds apps/web/overlays/staging/kustomization.yaml'
    )
    const why = Object.fromEntries(r.considered.map(c => [c.name, c.reason]))
    expect(why['web-prod']).toMatch(/holds none of the changed files/)
    expect(why['web-release']).toBe('tracks release, not main')
    expect(why['web-pinned']).toMatch(/pinned to v1\.4\.0/)
    expect(why['web-sha']).toMatch(/pinned to commit bbbbbbbbbbbb, which cannot include/)
    expect(why['other-repo']).toMatch(/reads another repository/)
  })

  it('matches an app whose repoURL is spelled differently (ssh, no .git)', () => {
    const r = matchApps(
      [app('web', {repoURL: 'git@github.com:acme/config', path: './apps/web/overlays/staging/'})],
      target()
    )
    expect(r.matched).toHaveLength(1)
  })

  it('HEAD follows the default branch only: a push to another branch does not match it', () => {
    const apps = [app('web', {path: 'apps/web/overlays/staging'})]
    expect(matchApps(apps, target({branch: 'release'})).considered[0].reason).toBe(
      'follows HEAD (the default branch main), not release'
    )
    expect(matchApps(apps, target()).matched).toHaveLength(1)
  })

  it('matches a multi-source app on the source that reads the change, and a $values ref', () => {
    const multi = app('web-multi', [
      {
        repoURL: 'https://charts.example.com',
        chart: 'web',
        targetRevision: '1.2.0',
        helm: {valueFiles: ['$values/apps/web/values-staging.yaml']}
      },
      {ref: 'values', targetRevision: 'main'}
    ])
    const r = matchApps([multi], target({paths: ['apps/web/values-staging.yaml']}))
    expect(r.matched).toHaveLength(1)
    expect(r.matched[0].sourceIndex).toBe(1)
    expect(r.matched[0].reason).toBe('its value file $values/apps/web/values-staging.yaml changed')
    const miss = matchApps([multi], target({paths: ['apps/web/values-prod.yaml']}))
    expect(miss.matched).toHaveLength(0)
  })

  it('a root path app (path .) deploys every change in its repo', () => {
    expect(
      matchApps([app('root', {path: '.', targetRevision: 'main'})], target()).matched
    ).toHaveLength(1)
  })
})
