/**
 * The shipped example as a "remote" config repo for the demos: examples/config-repo
 * committed once and cloned bare into `tmp`, served over file://.
 */
import {execFileSync} from 'node:child_process'
import {cpSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'

export const root = resolve(import.meta.dirname, '..')

const env = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Demo',
  GIT_AUTHOR_EMAIL: 'demo@example.com',
  GIT_COMMITTER_NAME: 'Demo',
  GIT_COMMITTER_EMAIL: 'demo@example.com'
}

/** git with the demo identity, answering stdout. */
export const git = (cwd, ...args) => execFileSync('git', args, {cwd, env, encoding: 'utf8'})

/** Creates the bare repo under `tmp`; answers its path and file:// URL. */
export function exampleRemote(tmp) {
  const seed = join(tmp, 'seed')
  cpSync(join(root, 'examples', 'config-repo'), seed, {recursive: true})
  git(seed, 'init', '-q', '-b', 'main')
  git(seed, 'add', '-A')
  git(seed, 'commit', '-q', '-m', 'Initial config repo')
  const bare = join(tmp, 'config.git')
  git(tmp, 'clone', '-q', '--bare', seed, bare)
  return {bare, url: pathToFileURL(bare).href}
}
