/**
 * `changes` on a 50,000-commit repository, answered from a depth-1 clone (what
 * CI checks out) by deepening on demand, against the naive fix for shallow
 * clones: fetch the full history first (`git fetch --unshallow`), then answer.
 * The repository is generated once with `git fast-import` and cached under
 * .tmp/bench-cache; it is served over file://, so fetches run the real
 * upload-pack negotiation.
 */
import {existsSync, mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {resolveCiContext} from '../src/changes/ci-context.js'
import {detectChanges, type ChangesResult} from '../src/changes/detect.js'
import {createFilter} from '../src/changes/filter.js'
import {parseTagFormat} from '../src/changes/tag-format.js'
import {execGit} from '../src/git/exec.js'

const COMMITS = 50_000
const MODULES = 40

function data(text: string): string {
  return `data ${Buffer.byteLength(text)}\n${text}\n`
}

/** Commit i touches src/ every 7th commit until `lastSource`, otherwise a manifest. */
function stream(lastSource: number): string {
  const parts: string[] = []
  let clock = 1_600_000_000
  for (let i = 0; i < COMMITS; i++) {
    clock += 60
    parts.push(
      `commit refs/heads/main\nmark :${i + 1}\ncommitter Bench <bench@example.com> ${clock} +0000\n`
    )
    parts.push(data(`commit ${i}`))
    if (i === 0) {
      for (let m = 0; m < MODULES; m++)
        parts.push(`M 100644 inline src/mod${m}/index.ts\n${data(`export const v = 0 // ${m}\n`)}`)
      parts.push(`M 100644 inline Dockerfile\n${data('FROM node:24\nCOPY src /app\n')}`)
      parts.push(`M 100644 inline deploy/app.yaml\n${data('image: app:0\n')}`)
    } else if (i <= lastSource && (i % 7 === 0 || i === lastSource)) {
      parts.push(
        `M 100644 inline src/mod${i % MODULES}/index.ts\n${data(`export const v = ${i}\n`)}`
      )
    } else {
      parts.push(
        `M 100644 inline deploy/app.yaml\n${data(`image: app:${i}\nreplicas: ${i % 5}\n`)}`
      )
    }
    parts.push('\n')
  }
  return parts.join('')
}

async function upstream(cache: string, sourceBack: number): Promise<string> {
  const repo = join(cache, `changes-${COMMITS}-${sourceBack}.git`)
  if (existsSync(join(repo, 'bench-ready'))) return repo
  rmSync(repo, {recursive: true, force: true})
  mkdirSync(repo, {recursive: true})
  const started = performance.now()
  await execGit(['init', '--quiet', '--bare', '-b', 'main'], {cwd: repo})
  await execGit(['fast-import', '--quiet'], {cwd: repo, input: stream(COMMITS - 1 - sourceBack)})
  await execGit(['gc', '--quiet'], {cwd: repo})
  await execGit(['config', 'uploadpack.allowReachableSHA1InWant', 'true'], {cwd: repo})
  mkdirSync(join(repo, 'bench-ready'))
  console.log(
    `  generated ${COMMITS} commits in ${((performance.now() - started) / 1000).toFixed(1)} s (cached in ${repo})`
  )
  return repo
}

async function answer(checkout: string, base: string): Promise<ChangesResult> {
  return detectChanges({
    cwd: checkout,
    remote: 'origin',
    filter: createFilter(['src/**', 'Dockerfile']),
    tagFormat: parseTagFormat('{sha}'),
    context: resolveCiContext({}, undefined, {base})
  })
}

async function timed<T>(fn: () => Promise<T>): Promise<{ms: number; value: T}> {
  const t = performance.now()
  const value = await fn()
  return {ms: performance.now() - t, value}
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

export async function run(): Promise<void> {
  const root = resolve(import.meta.dirname, '..', '.tmp')
  const cache = join(root, 'bench-cache')
  mkdirSync(cache, {recursive: true})
  const work = mkdtempSync(join(root, 'bench-changes-'))
  const reps = Number(process.env.BENCH_REPS ?? 3)
  try {
    for (const sourceBack of [0, 300, 5_000]) {
      const repo = await upstream(cache, sourceBack)
      const url = `file://${repo}`
      const base = (await execGit(['rev-parse', 'main~1'], {cwd: repo})).stdout.trim()
      const ours: number[] = []
      const naive: number[] = []
      let fetches = 0
      for (let r = 0; r < reps; r++) {
        const a = join(work, `ours-${sourceBack}-${r}`)
        const b = join(work, `naive-${sourceBack}-${r}`)
        await execGit(['clone', '--quiet', '--no-tags', '--depth=1', url, a], {cwd: work})
        await execGit(['clone', '--quiet', '--no-tags', '--depth=1', url, b], {cwd: work})
        const mine = await timed(() => answer(a, base))
        const full = await timed(async () => {
          await execGit(['fetch', '--quiet', '--no-tags', '--unshallow', 'origin'], {cwd: b})
          return answer(b, base)
        })
        if (
          mine.value.sourceCommit !== full.value.sourceCommit ||
          mine.value.kind !== full.value.kind
        ) {
          throw new Error(`answers differ: ${JSON.stringify([mine.value, full.value])}`)
        }
        fetches = mine.value.fetches
        ours.push(mine.ms)
        naive.push(full.ms)
        rmSync(a, {recursive: true, force: true})
        rmSync(b, {recursive: true, force: true})
      }
      const o = median(ours)
      const n = median(naive)
      console.log(
        `  source commit ${String(sourceBack).padStart(5)} commits back: deepen on demand ${o.toFixed(0)} ms (${fetches} fetches) vs unshallow first ${n.toFixed(0)} ms -> ${(n / o).toFixed(1)}x faster (median of ${reps})`
      )
    }
  } finally {
    rmSync(work, {recursive: true, force: true})
  }
}
