import {exampleFiles, projectRepo, type FileMap, type ProjectRepo} from '../helpers/git-fixtures.js'
import {fakeToken} from '../helpers/fake-token.js'

export const TOKEN = fakeToken('ghs_', 'promoteTestToken')

export type ExampleRepo = ProjectRepo

/** The example config repo as the forge project acme/config, force pushes allowed on PR branches. */
export async function exampleRepo(extra: FileMap = {}): Promise<ExampleRepo> {
  return projectRepo(
    {...(await exampleFiles()), ...extra},
    {prefix: 'gitops-promote-', allowForcePush: true}
  )
}

export {cli} from '../helpers/cli.js'
