import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {appName, appsTree, makeBareRepo, type BareRepo} from '../helpers/git-fixtures.js'
import {withoutRenderSkipNote} from '../helpers/tools.js'

const root = join(import.meta.dirname, '..', '..')
const tsx = join(root, 'node_modules', '.bin', 'tsx')
const writer = join(import.meta.dirname, '..', 'git', 'concurrent-writer.ts')

interface WriterResult {
  code: number | null
  result?: {changed: boolean; pushed: boolean; attempts: number; commit: string | null}
  stderr: string
}

/** Starts one real OS process per job, releases them together, collects results. */
async function race(
  url: string,
  jobs: {dir: string; image: string; tag: string}[]
): Promise<WriterResult[]> {
  const procs = jobs.map(job => {
    const args = ['--repo', url, '--path', job.dir, '--image', `${job.image}:${job.tag}`]
    const child = spawn(tsx, [writer, ...args], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    const ready = new Promise<void>(resolve =>
      child.stdout.on('data', d => {
        stdout += d
        if (stdout.includes('ready\n')) resolve()
      })
    )
    child.stderr.on('data', d => (stderr += d))
    const done = new Promise<WriterResult>(resolve =>
      child.on('close', code => {
        const line = stdout.split('\n').find(l => l.startsWith('{'))
        resolve({code, result: line ? JSON.parse(line) : undefined, stderr})
      })
    )
    return {child, ready, done}
  })
  await Promise.all(procs.map(p => p.ready))
  for (const p of procs) p.child.stdin.write('go\n')
  return Promise.all(procs.map(p => p.done))
}

let repo: BareRepo | undefined
afterEach(async () => {
  await repo?.cleanup()
})

describe('concurrent writers on one branch (real processes)', () => {
  it('16 processes bumping 16 different apps at once all land', async () => {
    const n = 16
    repo = await makeBareRepo(appsTree(n, {overlays: ['prod']}))
    const base = await repo.head()
    const results = await race(
      repo.url,
      Array.from({length: n}, (_, i) => ({
        dir: `apps/${appName(i)}/overlays/prod`,
        image: `ghcr.io/acme/${appName(i)}`,
        tag: `2.0.${i}`
      }))
    )
    for (const r of results) {
      // stderr carries only the retry notes.
      expect(
        withoutRenderSkipNote(r.stderr)
          .split('\n')
          .filter(l => l && !/^push rejected \(main moved\)/.test(l))
      ).toEqual([])
      expect(r.code).toBe(0)
      expect(r.result?.pushed).toBe(true)
    }
    // Someone had to retry: the race was real.
    expect(results.some(r => (r.result?.attempts ?? 0) > 1)).toBe(true)
    for (let i = 0; i < n; i++) {
      expect(await repo.readFile(`apps/${appName(i)}/overlays/prod/kustomization.yaml`)).toContain(
        `newTag: 2.0.${i} `
      )
    }
    // A linear history of exactly one commit per writer, each pushed commit present.
    const log = await repo.log()
    expect(log).toHaveLength(n + 1)
    expect(log.every(c => c.parents.length <= 1)).toBe(true)
    expect(log[n].sha).toBe(base)
    expect(new Set(log.slice(0, n).map(c => c.sha))).toEqual(
      new Set(results.map(r => r.result?.commit))
    )
    await repo.fsck()
  })

  it('two processes setting the same image to the same tag produce one commit, which both report as theirs', async () => {
    repo = await makeBareRepo(appsTree(2, {overlays: ['prod']}))
    const job = {
      dir: `apps/${appName(1)}/overlays/prod`,
      image: `ghcr.io/acme/${appName(1)}`,
      tag: '5.0.0'
    }
    const results = await race(repo.url, [job, job])
    expect(results.map(r => r.code)).toEqual([0, 0])
    // Same edit, parent, author and second make the same commit: whichever push won, the commit
    // each run made is on the branch, so neither may tell a pipeline gated on `pushed` to skip it.
    // (Were the clocks a second apart, the slower run would find its edit already there: unchanged.)
    const log = await repo.log()
    expect(log).toHaveLength(2)
    for (const r of results) {
      if (r.result?.pushed) expect(r.result.commit).toBe(log[0].sha)
      else expect(r.result?.changed).toBe(false)
    }
    expect(results.some(r => r.result?.pushed)).toBe(true)
    expect(log[0].subject).toBe(`Deploy ${appName(1)}:5.0.0`)
  })
})
