import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {exampleFiles, makeBareRepo, type BareRepo, type FileMap} from '../helpers/git-fixtures.js'

export const TOKEN = 'ghs_promoteTestToken0123456789'

export interface ExampleRepo extends BareRepo {
  dispose(): Promise<void>
}

/**
 * The example config repo as a bare repo at `<tmp>/acme/config.git`, so a
 * file:// URL maps to the forge project `acme/config`. Force pushes are
 * allowed on PR branches like on an unprotected hosted repo.
 */
export async function exampleRepo(extra: FileMap = {}): Promise<ExampleRepo> {
  const tmp = await mkdtemp(join(tmpdir(), 'gitops-promote-'))
  const repo = await makeBareRepo(
    {...(await exampleFiles()), ...extra},
    {parent: join(tmp, 'acme'), name: 'config.git'}
  )
  await repo.git(['config', 'receive.denyNonFastForwards', 'false'])
  return Object.assign(repo, {dispose: () => rm(tmp, {recursive: true, force: true})})
}

export {cli} from '../helpers/cli.js'
