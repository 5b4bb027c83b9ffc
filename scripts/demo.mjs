#!/usr/bin/env node
/**
 * `npm run demo`: the main job on the shipped example, end to end.
 * 1. turns examples/config-repo into a local bare repo (the "remote" config repo)
 * 2. runs the bundled CLI: set-image --repo file://... on the staging overlay of `web`
 * 3. prints the images before and after, and the commit that landed in the remote
 * Everything lives in a temp dir that is removed at the end.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {exampleRemote, git, root} from './example-remote.mjs'

const tmp = mkdtempSync(join(tmpdir(), 'gitops-demo-'))
const overlay = 'apps/web/overlays/staging'

function images(bare) {
  const text = git(tmp, '--git-dir', bare, 'show', `main:${overlay}/kustomization.yaml`)
  const lines = text.split('\n')
  const start = lines.findIndex(l => l.startsWith('images:'))
  // The block ends at the next top-level key (sequences may sit flush with `images:`).
  const end = lines.findIndex((l, i) => i > start && /^[A-Za-z]/.test(l))
  return lines
    .slice(start, end === -1 ? undefined : end)
    .join('\n')
    .trimEnd()
}

try {
  const {bare, url} = exampleRemote(tmp)

  console.log(`config repo: ${url}\n`)
  console.log(`before (${overlay}):\n${images(bare)}\n`)

  const args = [
    join(root, 'dist', 'cli.js'),
    'set-image',
    '--repo',
    url,
    '--path',
    overlay,
    '--image',
    'ghcr.io/acme/web:1.5.0',
    '--image',
    'ghcr.io/acme/web-migrations:1.5.0',
    '--json'
  ]
  console.log(`$ gitops-deploy ${args.slice(1).join(' ')}`)
  const run = spawnSync(process.execPath, args, {encoding: 'utf8', env: process.env})
  process.stderr.write(run.stderr)
  process.stdout.write(run.stdout)
  if (run.status !== 0) throw new Error(`set-image exited ${run.status}`)

  console.log(`\nafter (${overlay}):\n${images(bare)}\n`)
  console.log('commit in the remote:')
  console.log(
    git(tmp, '--git-dir', bare, 'log', '-1', '--format=%h %an <%ae>%n%n%B', 'main').trimEnd()
  )
  console.log(git(tmp, '--git-dir', bare, 'show', '--format=', 'main'))
} catch (e) {
  console.error(`demo failed: ${e.message}`)
  process.exitCode = 1
} finally {
  rmSync(tmp, {recursive: true, force: true})
}
