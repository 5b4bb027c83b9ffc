import {readdirSync, readFileSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, relative, sep} from 'node:path'
import {fileURLToPath} from 'node:url'
import {runCli} from '../../src/adapters/cli/main.js'
import {makeBareRepo, type BareRepo, type FileMap} from '../helpers/git-fixtures.js'

export const TOKEN = 'ghs_promoteTestToken0123456789'

const EXAMPLE = fileURLToPath(new URL('../../examples/config-repo', import.meta.url))

/** Every file of examples/config-repo, as a fixture FileMap. */
export function exampleFiles(): FileMap {
  const out: FileMap = {}
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, {withFileTypes: true})) {
      const path = join(dir, e.name)
      if (e.isDirectory()) walk(path)
      else out[relative(EXAMPLE, path).split(sep).join('/')] = readFileSync(path, 'utf8')
    }
  }
  walk(EXAMPLE)
  return out
}

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
    {...exampleFiles(), ...extra},
    {parent: join(tmp, 'acme'), name: 'config.git'}
  )
  await repo.git(['config', 'receive.denyNonFastForwards', 'false'])
  return Object.assign(repo, {dispose: () => rm(tmp, {recursive: true, force: true})})
}

export async function cli(argv: string[], env: Record<string, string> = {}) {
  let stdout = ''
  let stderr = ''
  const code = await runCli(argv, {
    stdout: s => void (stdout += s),
    stderr: s => void (stderr += s),
    env
  })
  return {code, stdout, stderr}
}
