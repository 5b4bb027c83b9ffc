#!/usr/bin/env node
/**
 * Proves the README's promise that `npm test` passes with only Node and git: runs the test
 * files that need rsync (gitlab-ci-local jobs) or kubectl with a PATH holding nothing but
 * `node` and `git`, and checks that they pass, that those tests are skipped rather than
 * failed, and that each missing tool is named in one line with how to install it.
 * `.ci/run` calls it after the full suite (which runs with every tool installed).
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const FILES = [
  'test/gitlab/run.test.ts',
  'test/gitlab/self-test.test.ts',
  'test/gitlab/preview.test.ts',
  'test/promote/render.test.ts',
  'test/commands/set-image-local.test.ts'
]
const EXPECTED_LINES = [
  'skipped: rsync not found — apt-get install rsync',
  'skipped: kubectl not found — install kubectl'
]

const which = name => {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`${name} is not on PATH`)
  return r.stdout.trim()
}

const tmp = mkdtempSync(join(tmpdir(), 'gitops-fresh-'))
let failed = false
try {
  const bin = join(tmp, 'bin')
  mkdirSync(bin)
  // The Node that runs the suite (npm test puts node@24 from the devDependency first).
  symlinkSync(process.execPath, join(bin, 'node'))
  symlinkSync(which('git'), join(bin, 'git'))
  const report = join(tmp, 'report.json')
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/vitest/vitest.mjs'),
      'run',
      ...FILES,
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${report}`
    ],
    {cwd: root, encoding: 'utf8', env: {...process.env, PATH: bin}, maxBuffer: 64 * 1024 * 1024}
  )
  const out = r.stdout + r.stderr
  const json = JSON.parse(readFileSync(report, 'utf8'))
  const skipped = json.numPendingTests + json.numTodoTests
  console.log(
    `PATH=${bin} (node, git only): ${json.numPassedTests} passed, ${json.numFailedTests} failed, ${skipped} skipped`
  )
  if (r.status !== 0 || json.numFailedTests > 0) {
    failed = true
    console.error(out)
    console.error('some tests fail without rsync/kubectl; they must skip instead')
  }
  if (skipped === 0) {
    failed = true
    console.error('nothing was skipped: did the rsync/kubectl checks stop looking at PATH?')
  }
  for (const line of EXPECTED_LINES) {
    if (!out.includes(line)) {
      failed = true
      console.error(`missing the skip line "${line}…"`)
    }
  }
} finally {
  rmSync(tmp, {recursive: true, force: true})
}
process.exit(failed ? 1 : 0)
