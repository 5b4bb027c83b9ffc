import {
  kustomization,
  projectRepo,
  type FileMap,
  type ProjectRepo
} from '../helpers/git-fixtures.js'
import {fakeToken} from '../helpers/fake-token.js'

/** GitHub App installation tokens and GITHUB_TOKEN start with ghs_: the double signs their commits. */
export const APP_TOKEN = fakeToken('ghs_', 'transportAppToken')
export const PAT = fakeToken('ghp_', 'transportClassicPat')
/** A token without a known prefix (e.g. an old GHES token): not refused up front, not signed. */
export const PLAIN_TOKEN = fakeToken('', 'enterprise')
export const GITLAB_TOKEN = fakeToken('glpat-', 'transportToken')

export const APPS = ['web', 'api', 'worker']
export const overlay = (app: string, env = 'dev') => `apps/${app}/overlays/${env}`
export const kfile = (app: string, env = 'dev') => `${overlay(app, env)}/kustomization.yaml`

export function configFiles(apps = APPS): FileMap {
  const files: FileMap = {'README.md': '# config\n'}
  for (const app of apps) {
    files[`apps/${app}/base/kustomization.yaml`] = 'resources:\n  - deployment.yaml\n'
    files[`apps/${app}/base/deployment.yaml`] = `kind: Deployment\nmetadata: {name: ${app}}\n`
    for (const env of ['dev', 'prod'])
      files[kfile(app, env)] = kustomization(`ghcr.io/acme/${app}`, '1.0.0')
  }
  return files
}

export type TransportRepo = ProjectRepo

/** The forge project acme/config (branch protection on: no force pushes). */
export function transportRepo(files: FileMap = configFiles()): Promise<TransportRepo> {
  return projectRepo(files, {prefix: 'gitops-transport-'})
}

export {cli} from '../helpers/cli.js'

export function tagOf(text: string): string | undefined {
  return /newTag: (\S+)/.exec(text)?.[1]
}
