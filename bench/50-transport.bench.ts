/**
 * The API commit transport against the git transport on the large generated
 * config repo of bench/20 (3,000 apps x (base + 3 overlays), 40,000 commits,
 * from its cache). The API side is served by the GitHub double (REST +
 * GraphQL createCommitOnBranch on a copy of the bare repo); the git side by
 * `git http-backend` over smart HTTP. Both run set-image --repo in-process
 * (runRemoteSetImage), so the comparison is the transport, not Node start-up.
 *
 * Measured in the same run:
 *   - one tag write to one overlay: round trips, bytes each way, wall time
 *     (medians over BENCH_RUNS writes, a different app each);
 *   - 32 concurrent writers, each on its own app, per transport: how many
 *     land, and the distribution of attempts.
 */
import {cp, mkdtemp, rm} from 'node:fs/promises'
import {cpus, tmpdir, totalmem} from 'node:os'
import {join} from 'node:path'
import {Redactor} from '../src/core/redact.js'
import {execGit} from '../src/git/exec.js'
import {runRemoteSetImage} from '../src/commands/set-image.js'
import {DEFAULT_AUTHOR} from '../src/delivery/options.js'
import type {RemoteReport} from '../src/delivery/report.js'
import {memoryPlatform} from '../src/platform/port.js'
import {GitHubDouble} from '../test/doubles/github-double.js'
import {appName} from '../test/helpers/git-fixtures.js'
import {startGitHttpServer, type GitHttpServer} from '../test/helpers/git-http-server.js'
import {cachedRepo} from './20-remote-write.bench.js'
import {fakeToken} from '../test/helpers/fake-token.js'

const COMMITS = 40_000
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const WRITERS = 32
const TOKEN = fakeToken('ghs_', 'benchTransportToken')
const USER = 'x-access-token'

interface Traffic {
  requests: number
  bytesIn: number
  bytesOut: number
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const overlay = (i: number) => `apps/${appName(i)}/overlays/prod`

function gitTraffic(server: GitHttpServer, from: number): Traffic {
  const r = server.requests.slice(from)
  return {
    requests: r.length,
    // Seen from the client: what it sent is what the server received.
    bytesOut: r.reduce((n, e) => n + e.bytesIn, 0),
    bytesIn: r.reduce((n, e) => n + e.bytesOut, 0)
  }
}

function apiTraffic(gh: GitHubDouble, before: Traffic): Traffic {
  return {
    requests: gh.stats.requests - before.requests,
    bytesOut: gh.stats.bytesIn - before.bytesOut,
    bytesIn: gh.stats.bytesOut - before.bytesIn
  }
}

async function write(
  transport: 'git' | 'api',
  repo: string,
  gh: GitHubDouble,
  app: number,
  tag: string,
  options: {concurrent?: boolean} = {}
): Promise<RemoteReport> {
  const r = await runRemoteSetImage(
    {
      paths: [overlay(app)],
      images: [`ghcr.io/acme/${appName(app)}:${tag}`],
      sets: [],
      createKeys: false
    },
    {
      repo,
      branch: 'main',
      author: DEFAULT_AUTHOR,
      authorGiven: false,
      maxAttempts: options.concurrent ? 30 : 10,
      env: {GITOPS_TOKEN: TOKEN},
      cwd: process.cwd(),
      transport: {choice: transport, requireVerified: false},
      provider: 'github',
      apiUrl: gh.apiUrl
    },
    false,
    memoryPlatform(new Redactor())
  )
  if (!r.remote.pushed) throw new Error(`${transport} write of ${appName(app)} did not land`)
  if (r.remote.transport !== transport)
    throw new Error(`expected ${transport}, got ${r.remote.transport}`)
  return r.remote
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`

async function concurrency(
  transport: 'git' | 'api',
  url: string,
  gh: GitHubDouble,
  gitDir: string,
  first: number
): Promise<void> {
  const started = performance.now()
  const results = await Promise.all(
    Array.from({length: WRITERS}, (_, k) =>
      write(transport, url, gh, first + k, `race-${transport}-${k}`, {concurrent: true}).catch(
        (e: Error) => e
      )
    )
  )
  const wall = performance.now() - started
  let landed = 0
  for (let k = 0; k < WRITERS; k++) {
    const text = (
      await execGit(['show', `main:${overlay(first + k)}/kustomization.yaml`], {cwd: gitDir})
    ).stdout
    if (text.includes(`newTag: race-${transport}-${k} `)) landed++
  }
  const attempts = results.map(r => (r instanceof Error ? NaN : r.attempts))
  const histogram = new Map<number, number>()
  for (const a of attempts) histogram.set(a, (histogram.get(a) ?? 0) + 1)
  const failed = results.filter(r => r instanceof Error) as Error[]
  console.log(
    `  ${transport.padEnd(4)} landed ${landed}/${WRITERS}, wall ${(wall / 1000).toFixed(1)} s, attempts median ${median(attempts)}, max ${Math.max(...attempts)}; distribution ${[
      ...histogram
    ]
      .sort((a, b) => a[0] - b[0])
      .map(([a, n]) => `${a}:${n}`)
      .join(' ')}${failed.length ? `; failed: ${failed[0].message}` : ''}`
  )
}

export async function run(): Promise<void> {
  console.log(
    `machine: ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`
  )
  const src = await cachedRepo(COMMITS)
  const work = await mkdtemp(join(tmpdir(), 'bench-transport-'))
  let server: GitHttpServer | undefined
  let gh: GitHubDouble | undefined
  try {
    // One copy at <work>/acme/config.git: the double and the git server serve the same repository.
    const gitDir = join(work, 'acme', 'config.git')
    await cp(src, gitDir, {recursive: true})
    server = await startGitHttpServer({
      root: work,
      credentials: [{user: USER, password: TOKEN, access: 'write'}]
    })
    gh = await GitHubDouble.start({token: TOKEN, repos: [{owner: 'acme', repo: 'config', gitDir}]})
    const url = server.repoUrl('acme/config.git')
    const files =
      (await execGit(['ls-tree', '-r', '--name-only', 'main'], {cwd: gitDir})).stdout.split('\n')
        .length - 1
    console.log(
      `config repo: ${files} files, ${COMMITS} commits; git over smart HTTP, API through the GitHub double, both on 127.0.0.1`
    )

    // Warm-up, not counted.
    await write('git', url, gh, 0, 'warm')
    await write('api', url, gh, 1, 'warm')

    const rows: Record<'git' | 'api', {ms: number[]; traffic: Traffic[]; attempts: number[]}> = {
      git: {ms: [], traffic: [], attempts: []},
      api: {ms: [], traffic: [], attempts: []}
    }
    for (let i = 0; i < RUNS; i++) {
      for (const transport of ['git', 'api'] as const) {
        const app = 100 + i * 2 + (transport === 'api' ? 1 : 0)
        const beforeGit = server.requests.length
        const beforeApi = {
          requests: gh.stats.requests,
          bytesIn: gh.stats.bytesOut,
          bytesOut: gh.stats.bytesIn
        }
        const t = performance.now()
        const report = await write(transport, url, gh, app, `t-${i}`)
        rows[transport].ms.push(performance.now() - t)
        rows[transport].attempts.push(report.attempts)
        const git = gitTraffic(server, beforeGit)
        const api = apiTraffic(gh, beforeApi)
        rows[transport].traffic.push({
          requests: git.requests + api.requests,
          bytesIn: git.bytesIn + api.bytesIn,
          bytesOut: git.bytesOut + api.bytesOut
        })
      }
    }
    console.log('\none-tag write to one overlay, medians per write:')
    for (const transport of ['git', 'api'] as const) {
      const r = rows[transport]
      console.log(
        `  ${transport.padEnd(4)} round trips ${String(median(r.traffic.map(x => x.requests))).padStart(3)}   received ${kb(median(r.traffic.map(x => x.bytesIn))).padStart(10)}   sent ${kb(median(r.traffic.map(x => x.bytesOut))).padStart(9)}   wall ${Math.round(median(r.ms))} ms (runs ${r.ms.map(x => Math.round(x)).join(', ')})`
      )
    }
    const g = rows.git
    const a = rows.api
    const ratio = (x: number, y: number) => `${(x / y).toFixed(1)}x`
    console.log('\nratios (git / api):')
    console.log(
      `  round trips ${ratio(median(g.traffic.map(x => x.requests)), median(a.traffic.map(x => x.requests)))}, bytes received ${ratio(median(g.traffic.map(x => x.bytesIn)), median(a.traffic.map(x => x.bytesIn)))}, bytes sent ${ratio(median(g.traffic.map(x => x.bytesOut)), median(a.traffic.map(x => x.bytesOut)))}, wall time ${ratio(median(g.ms), median(a.ms))}`
    )

    console.log(
      `\nconcurrency: ${WRITERS} writers on ${WRITERS} apps, one branch, per transport (in-process, default backoff)`
    )
    await concurrency('git', url, gh, gitDir, 2000)
    await concurrency('api', url, gh, gitDir, 2100)
  } finally {
    await gh?.close()
    await server?.close()
    await rm(work, {recursive: true, force: true})
  }
}
