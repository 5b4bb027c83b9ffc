/**
 * set-image --repo against a large config repo served over smart HTTP.
 *
 * Repo: 3,000 apps x (base + 3 overlays) with 40,000 commits of history
 * (and a 4,000-commit twin for the growth check), generated with
 * `git fast-import`, repacked with bitmaps like a hosted server, cached under
 * .tmp/bench-cache/ keyed by the parameters.
 *
 * Compared in the same run, each writing one tag to one overlay and pushing:
 *   (a) `node cli.mjs set-image --repo ...` (the CLI, bundled with esbuild)
 *   (b) the naive recipe: full `git clone`, edit, commit, push
 *   (c) the floor: `git clone --depth 1 --filter=blob:none --sparse`, sparse
 *       set of the one directory, edit, commit, push with plain git
 * Targets: b/a >= 10, a/c <= 1.5, a(40k)/a(4k) <= 1.25.
 * Then 32 CLI processes bump 32 apps on one branch at once.
 */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {cp, mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {cpus, tmpdir, totalmem} from 'node:os'
import {join} from 'node:path'
import {execGit} from '../src/git/exec.js'
import {
  appName,
  appsTree,
  fastImport,
  fastImportCommit,
  initBare,
  kustomization
} from '../test/helpers/git-fixtures.js'
import {startGitHttpServer, type GitHttpServer} from '../test/helpers/git-http-server.js'
import {fakeToken} from '../test/helpers/fake-token.js'

const ROOT = join(import.meta.dirname, '..')
const APPS = 3000
const ENVS = ['dev', 'staging', 'prod']
const BIG = 40_000
const SMALL = 4_000
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const NAIVE_RUNS = Number(process.env.BENCH_NAIVE_RUNS ?? 3)
const WRITERS = 32
const TOKEN = fakeToken('', 'bench')
const USER = 'x-access-token'
const AUTH = (url: string) => ({
  [`http.${new URL(url).origin}/.extraHeader`]: `Authorization: Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}`
})
const IDENTITY = {
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com'
}

function mulberry32(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The generated repo for `commits`, built once and reused from the cache. */
export async function cachedRepo(commits: number): Promise<string> {
  const dir = join(
    ROOT,
    '.tmp',
    'bench-cache',
    `apps${APPS}-envs${ENVS.length}-commits${commits}-v1`,
    'config.git'
  )
  if (existsSync(join(dir, 'READY'))) return dir
  await rm(join(dir, '..'), {recursive: true, force: true})
  await mkdir(join(dir, '..'), {recursive: true})
  const started = Date.now()
  await initBare(dir)
  const ref = 'refs/heads/main'
  await fastImport(
    dir,
    fastImportCommit({
      ref,
      files: appsTree(APPS, {overlays: ENVS}),
      message: 'Initial config',
      time: 1_600_000_000
    })
  )
  const random = mulberry32(commits)
  // History in chunks: one fast-import per 10,000 commits keeps the stream small.
  for (let done = 1; done < commits;) {
    const n = Math.min(10_000, commits - done)
    const parts: string[] = []
    for (let i = 0; i < n; i++, done++) {
      const app = appName(Math.floor(random() * APPS))
      const env = ENVS[Math.floor(random() * ENVS.length)]
      const tag = `1.${Math.floor(done / 1000)}.${done % 1000}`
      parts.push(
        fastImportCommit({
          ref,
          from: i === 0 ? `${ref}^0` : undefined,
          files: {
            [`apps/${app}/overlays/${env}/kustomization.yaml`]: kustomization(
              `ghcr.io/acme/${app}`,
              tag
            )
          },
          message: `Deploy ${app}:${tag} to ${env}`,
          time: 1_600_000_000 + done * 60
        })
      )
    }
    await fastImport(dir, parts.join(''))
  }
  // Hosted servers keep packed repos with bitmaps: that is what makes a full clone as fast as it can be.
  await execGit(['repack', '-a', '-d', '-b', '-q'], {cwd: dir, timeoutMs: 1_800_000})
  await writeFile(join(dir, 'READY'), `${new Date().toISOString()} ${Date.now() - started} ms\n`)
  return dir
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

function runProcess(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv
): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise(resolve => {
    const child = spawn(cmd, args, {env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => (stdout += d))
    child.stderr.on('data', d => (stderr += d))
    child.on('close', code => resolve({code: code ?? 1, stdout, stderr}))
  })
}

/** Bundles an entry point so the measured process starts like the shipped dist/cli.js. */
async function bundle(entry: string, out: string): Promise<string> {
  const esbuild = join(ROOT, 'node_modules', '.bin', 'esbuild')
  const r = await runProcess(
    esbuild,
    [
      entry,
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--packages=external',
      `--outfile=${out}`,
      '--log-level=warning'
    ],
    process.env
  )
  if (r.code !== 0) throw new Error(`esbuild failed: ${r.stderr}`)
  return out
}

const overlay = (i: number) => `apps/${appName(i)}/overlays/prod`

/** (a) */
async function cliWrite(cli: string, url: string, app: number, tag: string): Promise<void> {
  const r = await runProcess(
    process.execPath,
    [
      cli,
      'set-image',
      '--repo',
      url,
      '--path',
      overlay(app),
      '--image',
      `ghcr.io/acme/${appName(app)}:${tag}`,
      '--json'
    ],
    {
      ...process.env,
      GITOPS_TOKEN: TOKEN
    }
  )
  if (r.code !== 0 || !JSON.parse(r.stdout).pushed)
    throw new Error(`set-image failed: ${r.stderr}${r.stdout}`)
}

async function plainGit(cwd: string, args: string[], url: string): Promise<void> {
  await execGit(args, {cwd, config: AUTH(url), env: IDENTITY, timeoutMs: 1_800_000})
}

async function editAndPush(dir: string, url: string, app: number, tag: string): Promise<void> {
  const file = join(dir, overlay(app), 'kustomization.yaml')
  const text = await readFile(file, 'utf8')
  await writeFile(file, text.replace(/newTag: \S+/, `newTag: ${tag}`))
  await plainGit(dir, ['commit', '-q', '-am', `Deploy ${appName(app)}:${tag}`], url)
  await plainGit(dir, ['push', '-q', 'origin', 'HEAD:main'], url)
}

/** (b) */
async function naiveWrite(url: string, app: number, tag: string): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'bench-naive-'))
  try {
    await plainGit(tmp, ['clone', '-q', url, 'repo'], url)
    await editAndPush(join(tmp, 'repo'), url, app, tag)
  } finally {
    await rm(tmp, {recursive: true, force: true})
  }
}

/** (c) */
async function floorWrite(url: string, app: number, tag: string): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'bench-floor-'))
  try {
    await plainGit(
      tmp,
      ['clone', '-q', '--depth', '1', '--filter=blob:none', '--sparse', url, 'repo'],
      url
    )
    const dir = join(tmp, 'repo')
    await plainGit(dir, ['sparse-checkout', 'set', overlay(app)], url)
    await editAndPush(dir, url, app, tag)
  } finally {
    await rm(tmp, {recursive: true, force: true})
  }
}

async function concurrency(writer: string, server: GitHttpServer, dir: string): Promise<void> {
  const url = server.repoUrl('big.git')
  const first = 2000
  const procs = Array.from({length: WRITERS}, (_, k) => {
    const app = first + k
    const child = spawn(
      process.execPath,
      [
        writer,
        '--repo',
        url,
        '--path',
        overlay(app),
        '--image',
        `ghcr.io/acme/${appName(app)}:race-${k}`
      ],
      {
        env: {...process.env, GITOPS_TOKEN: TOKEN},
        stdio: ['pipe', 'pipe', 'pipe']
      }
    )
    let stdout = ''
    const ready = new Promise<void>(r =>
      child.stdout.on('data', d => {
        stdout += d
        if (stdout.includes('ready\n')) r()
      })
    )
    child.stderr.resume()
    const done = new Promise<{code: number | null; at: number; out: string}>(r =>
      child.on('close', code => r({code, at: performance.now(), out: stdout}))
    )
    return {child, ready, done}
  })
  await Promise.all(procs.map(p => p.ready))
  const start = performance.now()
  for (const p of procs) p.child.stdin.write('go\n')
  const results = await Promise.all(procs.map(p => p.done))
  const wall = Math.max(...results.map(r => r.at)) - start
  const parsed = results.map(r => {
    const line = r.out.split('\n').find(l => l.startsWith('{'))
    return {
      code: r.code,
      json: line ? (JSON.parse(line) as {pushed: boolean; attempts: number}) : undefined
    }
  })
  let landed = 0
  for (let k = 0; k < WRITERS; k++) {
    const text = (
      await execGit(['show', `main:${overlay(first + k)}/kustomization.yaml`], {cwd: dir})
    ).stdout
    if (text.includes(`newTag: race-${k} `)) landed++
  }
  const attempts = parsed.map(p => p.json?.attempts ?? NaN)
  const histogram = new Map<number, number>()
  for (const a of attempts) histogram.set(a, (histogram.get(a) ?? 0) + 1)
  console.log(`\nconcurrency: ${WRITERS} writers on ${WRITERS} apps, one branch, smart HTTP`)
  console.log(
    `  exit 0 and pushed: ${parsed.filter(p => p.code === 0 && p.json?.pushed).length}/${WRITERS}; edits in the final tree: ${landed}/${WRITERS}`
  )
  console.log(`  total wall time: ${(wall / 1000).toFixed(1)} s`)
  console.log(
    `  attempts: median ${median(attempts)}, max ${Math.max(...attempts)}; distribution ${[
      ...histogram
    ]
      .sort((a, b) => a[0] - b[0])
      .map(([a, n]) => `${a}:${n}`)
      .join(' ')}`
  )
}

export async function run(): Promise<void> {
  console.log(
    `machine: ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`
  )
  const t0 = performance.now()
  const [bigSrc, smallSrc] = [await cachedRepo(BIG), await cachedRepo(SMALL)]
  console.log(
    `repos ready (${((performance.now() - t0) / 1000).toFixed(1)} s; cached under .tmp/bench-cache)`
  )
  const work = await mkdtemp(join(tmpdir(), 'bench-remote-write-'))
  let server: GitHttpServer | undefined
  try {
    // Work on copies: the runs push commits, the cache stays pristine.
    await cp(bigSrc, join(work, 'big.git'), {recursive: true})
    await cp(smallSrc, join(work, 'small.git'), {recursive: true})
    server = await startGitHttpServer({
      root: work,
      credentials: [{user: USER, password: TOKEN, access: 'write'}]
    })
    const big = server.repoUrl('big.git')
    const small = server.repoUrl('small.git')
    const cli = await bundle(join(ROOT, 'src', 'cli.ts'), join(ROOT, '.tmp', 'bench', 'cli.mjs'))
    const writer = await bundle(
      join(ROOT, 'test', 'git', 'concurrent-writer.ts'),
      join(ROOT, '.tmp', 'bench', 'writer.mjs')
    )
    const commits = (
      await execGit(['rev-list', '--count', 'main'], {cwd: join(work, 'big.git')})
    ).stdout.trim()
    const files =
      (
        await execGit(['ls-tree', '-r', '--name-only', 'main'], {cwd: join(work, 'big.git')})
      ).stdout.split('\n').length - 1
    console.log(
      `config repo: ${APPS} apps x (base + ${ENVS.length} overlays), ${files} files, ${commits} commits (twin: ${SMALL}); smart HTTP on 127.0.0.1 with Basic auth`
    )

    // Warm-up (page cache, server), not measured.
    await cliWrite(cli, big, 0, 'warm')
    await cliWrite(cli, small, 0, 'warm')
    await floorWrite(big, 1, 'warm')

    const a: number[] = []
    const aSmall: number[] = []
    const b: number[] = []
    const c: number[] = []
    // Interleaved, so drift on a shared machine hits every variant alike.
    for (let i = 0; i < RUNS; i++) {
      a.push(await timed(() => cliWrite(cli, big, 10 + i, `a-${i}`)))
      c.push(await timed(() => floorWrite(big, 20 + i, `c-${i}`)))
      aSmall.push(await timed(() => cliWrite(cli, small, 30 + i, `s-${i}`)))
      if (i < NAIVE_RUNS) b.push(await timed(() => naiveWrite(big, 40 + i, `b-${i}`)))
    }
    const ms = (x: number) => `${Math.round(x)} ms`
    const row = (name: string, xs: number[]) =>
      console.log(
        `  ${name.padEnd(52)} median ${ms(median(xs)).padStart(9)}   runs ${xs.map(ms).join(', ')}`
      )
    console.log('\none-tag write + push, medians:')
    row(`(a) set-image --repo (${commits} commits)`, a)
    row(`(a) set-image --repo (${SMALL} commits)`, aSmall)
    row('(b) naive: full clone, edit, commit, push', b)
    row('(c) floor: depth-1 blobless sparse clone + plain git', c)
    const speedup = median(b) / median(a)
    const floor = median(a) / median(c)
    const growth = median(a) / median(aSmall)
    const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED')
    console.log('\nratios:')
    console.log(
      `  (b)/(a) naive vs set-image       ${speedup.toFixed(1)}x   target >= 10x   ${verdict(speedup >= 10)}`
    )
    console.log(
      `  (a)/(c) set-image vs floor       ${floor.toFixed(2)}x   target <= 1.5x  ${verdict(floor <= 1.5)}`
    )
    console.log(
      `  (a) 10x history growth           ${((growth - 1) * 100).toFixed(0)}%     target <= 25%   ${verdict(growth <= 1.25)}`
    )

    await concurrency(writer, server, join(work, 'big.git'))
  } finally {
    await server?.close()
    await rm(work, {recursive: true, force: true})
  }
}
