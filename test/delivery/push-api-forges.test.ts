import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {setImageCommand} from '../../src/commands/set-image.js'
import {Redactor} from '../../src/core/redact.js'
import {runRemoteSetImage} from '../../src/commands/set-image.js'
import {DEFAULT_AUTHOR} from '../../src/delivery/options.js'
import {memoryPlatform} from '../../src/platform/port.js'
import {GitHubDouble} from '../doubles/github-double.js'
import {GitLabDouble, type GlProject} from '../doubles/gitlab-double.js'
import {
  APP_TOKEN,
  APPS,
  GITLAB_TOKEN,
  PAT,
  PLAIN_TOKEN,
  cli,
  configFiles,
  kfile,
  overlay,
  tagOf,
  transportRepo,
  type TransportRepo
} from './helpers.js'
import {fakeToken} from '../helpers/fake-token.js'

/**
 * set-image --repo over the API transport of both forges (GitHub's
 * createCommitOnBranch, GitLab's commits API), against the doubles, which
 * validate every request, over one real bare repository both serve. Cases
 * both forges share run once per forge (describe.each, with what each forge
 * records or answers differently in its ForgeUnderTest); what only one forge
 * has is in its own describe.
 */

let repo: TransportRepo
let gh: GitHubDouble
let gl: GitLabDouble
const project: GlProject = {id: 42, path: 'acme/config', gitDir: ''}

beforeAll(async () => {
  gh = await GitHubDouble.start({
    token: APP_TOKEN,
    tokens: [PAT, PLAIN_TOKEN],
    repos: []
  })
  gl = await GitLabDouble.start({projects: [project], token: GITLAB_TOKEN})
})

afterAll(async () => {
  await gh.close()
  await gl.close()
})

/** Both doubles serve `r` from now on. */
async function useRepo(r: TransportRepo) {
  repo = r
  ;(gh as unknown as {repos: unknown[]}).repos.splice(0, 1, {
    owner: 'acme',
    repo: 'config',
    gitDir: r.dir,
    requireSignedCommits: ['signed-only']
  })
  project.gitDir = r.dir
}

beforeEach(async () => {
  await useRepo(await transportRepo())
  gh.graphqlSupport = 'full'
  gh.treeLimit = 100_000
  gh.beforeHandle = undefined
  gh.requests.length = 0
  gl.beforeHandle = undefined
  gl.clearFailures()
  gl.requests.length = 0
})

afterEach(async () => {
  expect(gh.violations).toEqual([])
  expect(gl.violations).toEqual([])
  await repo.fsck()
  await repo.dispose()
})

type Settings = Parameters<typeof runRemoteSetImage>[1]
type Results = Awaited<ReturnType<typeof runRemoteSetImage>>[]

/** What the shared cases need to know of one forge. */
interface ForgeUnderTest {
  name: 'GitHub' | 'GitLab'
  provider: 'github' | 'gitlab'
  /** A token `auto` picks the API transport with. */
  token: string
  apiUrl(): string
  /** `/api/v3` or `/api/v4` in the transport reason. */
  apiPath: string
  /** Paths (with query) of every request the double saw. */
  paths(): string[]
  /** The requests that create a commit (GraphQL mutation / POST .../repository/commits). */
  commitRequests(): {status: number; body?: unknown}[]
  /** Tree listings (GitHub git/get-tree, GitLab GET .../repository/tree). */
  treeRequests(): string[]
  /** Runs `fn` once, right before the first commit request is handled. */
  beforeFirstCommit(fn: () => Promise<void>): void
  /** Extra arguments of the first-commit case, the author and the outcome they give. */
  firstArgs: string[]
  firstAuthor: string
  firstOutcome: object
  /** What only this forge sends for the first commit. */
  checkFirstCommitRequests(before: string): void
  /** Settings overrides that keep the forge's write pacing short. */
  fast: Partial<Settings>
  /** The 16-writer case: its settings and what only this forge shows. */
  concurrentSettings: Partial<Settings>
  checkConcurrent(results: Results): void
  /** The platform line when the commit was refused because a writer to the same file won. */
  staleLog: RegExp
  /** The statuses of a commit request refused as stale and of the one that lands. */
  refusedThenLanded: number[]
  /** Commit requests the forge refused as stale (each writer lands exactly once). */
  refusedCommits(landed: number): number
  wrongToken: string
  wrongTokenError: RegExp
}

const forgeGitHub: ForgeUnderTest = {
  name: 'GitHub',
  provider: 'github',
  token: APP_TOKEN,
  apiUrl: () => gh.apiUrl,
  apiPath: '/api/v3',
  paths: () => gh.requests.map(q => q.path),
  commitRequests: () => gh.requests.filter(r => r.operationId === 'graphql'),
  treeRequests: () => gh.requests.filter(q => q.operationId === 'git/get-tree').map(q => q.path),
  beforeFirstCommit(fn) {
    let raced = false
    gh.beforeHandle = async (method, path) => {
      if (raced || path !== '/api/graphql') return
      raced = true
      await fn()
    }
  },
  firstArgs: [],
  firstAuthor: 'github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>',
  firstOutcome: {
    changed: true,
    pushed: true,
    attempts: 1,
    transport: 'api',
    verified: true,
    verification: 'valid',
    branch: 'main'
  },
  checkFirstCommitRequests() {
    // Default branch, ref, directory listing, blob, mutation, verification: six round trips.
    expect(gh.requests.map(q => q.operationId)).toEqual([
      'repos/get',
      'git/get-ref',
      'repos/get-content',
      'git/get-blob',
      'graphql',
      'repos/get-commit'
    ])
  },
  fast: {apiMsPerSecond: 1},
  concurrentSettings: {
    maxAttempts: 40,
    backoff: {baseMs: 5, capMs: 300},
    apiMsPerSecond: 1,
    transport: {choice: 'api', requireVerified: true}
  },
  checkConcurrent(results) {
    for (const r of results) {
      expect(r.remote).toMatchObject({pushed: true, transport: 'api', verified: true})
      expect(r.remote.rejected).toBeUndefined()
    }
    const attempts = results.map(r => r.remote.attempts)
    // GitHub's createCommitOnBranch is conditional on the whole branch: simultaneous writers retry.
    expect(Math.max(...attempts)).toBeGreaterThan(1)
  },
  staleLog: /API commit refused \(main moved.*Expected branch to point to.*attempt 2 of 10/s,
  // GraphQL answers a refused mutation 200 with `errors`.
  refusedThenLanded: [200, 200],
  refusedCommits: landed => gh.requests.filter(r => r.operationId === 'graphql').length - landed,
  wrongToken: fakeToken('ghp_', 'wrong'),
  wrongTokenError: /HTTP 401 Bad credentials; set GITOPS_TOKEN to a valid token/
}

const forgeGitLab: ForgeUnderTest = {
  name: 'GitLab',
  provider: 'gitlab',
  token: GITLAB_TOKEN,
  apiUrl: () => gl.apiUrl,
  apiPath: '/api/v4',
  paths: () => gl.requests.map(q => q.path),
  commitRequests: () => gl.requests.filter(r => r.method === 'POST'),
  treeRequests: () =>
    gl.requests
      .filter(q => q.method === 'GET' && /\/repository\/tree\?/.test(q.path))
      .map(q => q.path),
  beforeFirstCommit(fn) {
    let raced = false
    gl.beforeHandle = async (method, path) => {
      if (raced || method !== 'POST' || !path.endsWith('/repository/commits')) return
      raced = true
      await fn()
    }
  },
  firstArgs: ['--author', 'Deploy Bot <deploy@example.com>'],
  firstAuthor: 'Deploy Bot <deploy@example.com>',
  firstOutcome: {pushed: true, attempts: 1, transport: 'api', verified: null},
  checkFirstCommitRequests(before) {
    const [post] = gl.requests.filter(r => r.method === 'POST')
    const body = post.body as {
      actions: {action: string; file_path: string; last_commit_id?: string}[]
    }
    expect(body.actions).toEqual([
      expect.objectContaining({action: 'update', file_path: kfile('web'), last_commit_id: before})
    ])
  },
  fast: {},
  concurrentSettings: {},
  checkConcurrent(results) {
    // GitLab commits each writer's files on top of the current tip: nobody retries.
    expect(results.map(r => [r.remote.pushed, r.remote.attempts, r.remote.transport])).toEqual(
      Array.from({length: 16}, () => [true, 1, 'api'])
    )
  },
  staleLog: /has changed since you started editing it.*attempt 2 of 10/,
  refusedThenLanded: [400, 201],
  refusedCommits: () => gl.requests.filter(r => r.method === 'POST' && r.status === 400).length,
  wrongToken: fakeToken('glpat-', 'wrong'),
  wrongTokenError: /HTTP 401.*GITOPS_TOKEN.*api scope/
}

describe.each([
  ['GitHub', forgeGitHub],
  ['GitLab', forgeGitLab]
] as const)('set-image --repo over the %s API', (_, f) => {
  // These count the transport's own requests; what the render check reads (the bases) is asserted
  // in test/edits/render-check.test.ts.
  const args = (...rest: string[]) => [
    'set-image',
    '--repo',
    repo.url,
    '--provider',
    f.provider,
    '--api-url',
    f.apiUrl(),
    '--render-check',
    'never',
    ...rest
  ]
  const settings = (extra: Partial<Settings> = {}): Settings => ({
    repo: repo.url,
    author: DEFAULT_AUTHOR,
    authorGiven: false,
    maxAttempts: 10,
    env: {GITOPS_TOKEN: f.token},
    cwd: process.cwd(),
    backoff: {baseMs: 5, capMs: 100},
    transport: {choice: 'auto' as const, requireVerified: false},
    provider: f.provider,
    apiUrl: f.apiUrl(),
    ...extra
  })

  it('auto picks the API with a token: one commit on the tip, the token in headers only', async () => {
    const before = await repo.head()
    const r = await cli(
      [
        ...args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.1.0', '--json'),
        ...f.firstArgs
      ],
      {GITOPS_TOKEN: f.token}
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject(f.firstOutcome)
    expect(out.transportReason).toMatch(
      new RegExp(`^auto: ${f.name} API at http://127\\.0\\.0\\.1:\\d+${f.apiPath}`)
    )
    const [head] = await repo.log()
    expect(head.sha).toBe(out.commit)
    expect(head.parents).toEqual([before])
    expect(head.author).toBe(f.firstAuthor)
    expect(head.subject).toMatch(/web/)
    expect(tagOf(await repo.readFile(kfile('web')))).toBe('1.1.0')
    // Only the one file changed, every other byte kept.
    expect((await repo.git(['diff', '--name-only', before, head.sha])).trim()).toBe(kfile('web'))
    expect(await repo.readFile(kfile('web'))).toContain('newTag: 1.1.0 # bumped by CI')
    f.checkFirstCommitRequests(before)
    // The token travels in a header only, never in a URL.
    expect(f.paths().join('\n')).not.toContain(f.token.slice(4))
    expect(r.stdout + r.stderr).not.toContain(f.token)
  })

  it('edits every directory a glob matches in one commit (one tree listing)', async () => {
    const r = await cli(
      [
        ...args(
          '--path',
          'apps/*/overlays/prod',
          '--image',
          'ghcr.io/acme/web:3.0.0',
          '--image',
          'ghcr.io/acme/api:3.0.0',
          // Kustomize's own behaviour, so the overlays' bases need not be read (dead-entry protection).
          '--add-missing',
          '--json'
        )
      ],
      {GITOPS_TOKEN: f.token}
    )
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    // Like kustomize, an image missing from a kustomization is added to it (worker gains both).
    expect(out.files).toEqual([kfile('api', 'prod'), kfile('web', 'prod'), kfile('worker', 'prod')])
    expect(tagOf(await repo.readFile(kfile('web', 'prod')))).toBe('3.0.0')
    expect(tagOf(await repo.readFile(kfile('api', 'prod')))).toBe('3.0.0')
    expect(await repo.readFile(kfile('worker', 'prod'))).toContain('name: ghcr.io/acme/web')
    expect(tagOf(await repo.readFile(kfile('worker', 'dev')))).toBe('1.0.0')
    expect(f.treeRequests()).toHaveLength(1)
    expect(f.commitRequests()).toHaveLength(1)
  })

  it('edits the root kustomization and a --set file with one root listing (not the whole tree)', async () => {
    await repo.commit(
      {
        'kustomization.yaml': 'images:\n  - name: ghcr.io/acme/root\n    newTag: 1.0.0\n',
        'helm/values.yaml': 'image:\n  tag: 1.0.0 # keep me\n'
      },
      'root files'
    )
    const r = await cli(
      [
        'set-image',
        '--repo',
        repo.url,
        '--provider',
        f.provider,
        '--api-url',
        f.apiUrl(),
        '--image',
        'ghcr.io/acme/root:2.0.0',
        '--set',
        'helm/values.yaml:image.tag=2.0.0',
        '--render-check',
        'never',
        '--json'
      ],
      {GITOPS_TOKEN: f.token}
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).files).toEqual(['helm/values.yaml', 'kustomization.yaml'])
    expect(await repo.readFile('helm/values.yaml')).toBe('image:\n  tag: 2.0.0 # keep me\n')
    expect(tagOf(await repo.readFile('kustomization.yaml'))).toBe('2.0.0')
    expect(f.treeRequests()).toEqual([expect.not.stringContaining('recursive')])
  })

  it('re-running is a no-op and --dry-run writes nothing', async () => {
    const a = [...args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.1.0', '--json')]
    expect((await cli(a, {GITOPS_TOKEN: f.token})).code).toBe(0)
    const head = await repo.head()
    const again = JSON.parse((await cli(a, {GITOPS_TOKEN: f.token})).stdout)
    expect(again).toMatchObject({changed: false, pushed: false, transport: 'api'})
    const dry = await cli(
      [
        ...args(
          '--path',
          overlay('web'),
          '--image',
          'ghcr.io/acme/web:9.9.9',
          '--dry-run',
          '--json'
        )
      ],
      {GITOPS_TOKEN: f.token}
    )
    expect(JSON.parse(dry.stdout)).toMatchObject({changed: true, pushed: false, dryRun: true})
    expect(await repo.head()).toBe(head)
  })

  it('a writer to the same file between our read and our commit: re-read, re-applied on the new tip', async () => {
    // Another writer changes the same file between our read and our commit.
    f.beforeFirstCommit(async () => {
      const text = await repo.readFile(kfile('web'))
      await repo.commit(
        {[kfile('web')]: text.replace('bumped by CI', 'edited by a human')},
        'human edit'
      )
    })
    const r = await cli(
      [
        ...args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.4.0', '--json'),
        '--max-attempts',
        '10'
      ],
      {GITOPS_TOKEN: f.token}
    )
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({pushed: true, attempts: 2, transport: 'api'})
    // Both edits survive: ours was re-applied on the human's commit, not on the stale read.
    expect(await repo.readFile(kfile('web'))).toContain('newTag: 1.4.0 # edited by a human')
    const [ours, human] = await repo.log()
    expect(human.subject).toBe('human edit')
    expect(ours.parents).toEqual([human.sha])
    expect(r.stderr).toMatch(f.staleLog)
    expect(f.commitRequests().map(q => q.status)).toEqual(f.refusedThenLanded)
    expect(f.refusedCommits(1)).toBe(1)
  })

  it('16 concurrent writers on different files all land', async () => {
    await repo.dispose()
    await useRepo(await transportRepo(configFiles(Array.from({length: 16}, (_, i) => `app${i}`))))
    const redactor = new Redactor()
    const results = await Promise.all(
      Array.from({length: 16}, (_, i) =>
        runRemoteSetImage(
          {
            paths: [overlay(`app${i}`)],
            images: [`ghcr.io/acme/app${i}:race-${i}`],
            sets: [],
            createKeys: false
          },
          settings(f.concurrentSettings),
          false,
          memoryPlatform(redactor)
        )
      )
    )
    for (const r of results) expect(r.remote).toMatchObject({pushed: true, transport: 'api'})
    f.checkConcurrent(results)
    for (let i = 0; i < 16; i++)
      expect(tagOf(await repo.readFile(kfile(`app${i}`)))).toBe(`race-${i}`)
    expect((await repo.log('main', 100)).filter(c => c.subject !== 'Initial config')).toHaveLength(
      16
    )
  })

  it('concurrent writers to the same file: every one lands, the losers after a retry', async () => {
    const redactor = new Redactor()
    const tags = ['a', 'b', 'c', 'd']
    const results = await Promise.all(
      tags.map(t =>
        runRemoteSetImage(
          {
            paths: [],
            images: [],
            sets: [`${kfile('web')}:metadata.name=${t}`],
            createKeys: true
          },
          settings(f.fast),
          false,
          memoryPlatform(redactor)
        )
      )
    )
    // Each sets the same key: all land in some order, and conflicts were detected, not lost.
    for (const r of results) expect(r.remote).toMatchObject({pushed: true})
    expect(Math.max(...results.map(r => r.remote.attempts))).toBeGreaterThan(1)
    expect(f.refusedCommits(tags.length)).toBeGreaterThan(0)
    const log = await repo.log()
    expect(log.filter(c => c.subject !== 'Initial config')).toHaveLength(4)
  })

  it('a wrong token exits 1 naming the variable and the scope, remote untouched', async () => {
    const before = await repo.head()
    const r = await cli(
      [
        ...args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.1.0', '--transport', 'api')
      ],
      {GITOPS_TOKEN: f.wrongToken}
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(f.wrongTokenError)
    expect(r.stderr).not.toContain(f.wrongToken)
    expect(await repo.head()).toBe(before)
  })
})

describe('set-image --repo over the GitHub API (createCommitOnBranch): what only GitHub has', () => {
  const args = (...rest: string[]) => [
    'set-image',
    '--repo',
    repo.url,
    '--provider',
    'github',
    '--api-url',
    gh.apiUrl,
    ...rest
  ]
  const graphqlCalls = () => gh.requests.filter(r => r.operationId === 'graphql')

  it('says which transport and why in text, outputs and summary', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'transport-out-'))
    try {
      const dotenv = join(dir, 'out.env')
      const r = await cli(
        [
          ...args('--path', overlay('api'), '--image', 'ghcr.io/acme/api:2.0.0'),
          '--transport',
          'api',
          '--dotenv',
          dotenv
        ],
        {GITOPS_TOKEN: APP_TOKEN}
      )
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/pushed [0-9a-f]{40} to main of .* via api, verified/)
      const env = await readFile(dotenv, 'utf8')
      expect(env).toContain('GITOPS_TRANSPORT=api')
      expect(env).toContain('GITOPS_VERIFIED=true')
      expect(env).toContain('GITOPS_ATTEMPTS=1')
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
    const result = await runRemoteSetImage(
      {paths: [overlay('web')], images: ['ghcr.io/acme/web:4.0.0'], sets: [], createKeys: false},
      {
        repo: repo.url,
        author: DEFAULT_AUTHOR,
        authorGiven: false,
        maxAttempts: 3,
        env: {GITOPS_TOKEN: APP_TOKEN},
        cwd: process.cwd(),
        transport: {choice: 'auto', requireVerified: false},
        provider: 'github',
        apiUrl: gh.apiUrl
      },
      false,
      memoryPlatform(new Redactor())
    )
    const summary = setImageCommand.summary({...result, dryRun: false})
    expect(summary).toMatch(/\*\*Transport:\*\* api \(auto: GitHub API at .*\)/)
    expect(summary).toContain('**Verified:** yes')
    expect(summary).toContain('**Attempts:** 1')
  })

  it('--require-verified with a PAT stops before anything is written, naming the token to use', async () => {
    const before = await repo.head()
    const r = await cli(
      [
        ...args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.1.0', '--require-verified')
      ],
      {GITOPS_TOKEN: PAT}
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /classic personal access token.*GITHUB_TOKEN.*GitHub App installation token/
    )
    expect(r.stderr).not.toContain(PAT)
    expect(await repo.head()).toBe(before)
    expect(graphqlCalls()).toHaveLength(0)
  })

  it('--require-verified fails loudly when GitHub did not sign the commit', async () => {
    const r = await cli(
      [
        ...args(
          '--path',
          overlay('web'),
          '--image',
          'ghcr.io/acme/web:1.1.0',
          '--require-verified',
          '--json'
        )
      ],
      {GITOPS_TOKEN: PLAIN_TOKEN}
    )
    expect(r.code).toBe(1)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({
      pushed: true,
      verified: false,
      verification: 'unsigned',
      transport: 'api'
    })
    expect(out.error).toMatch(/did not verify it \(reason: unsigned\).*GITHUB_TOKEN/)
    // Without --require-verified the same token just reports it.
    const plain = await cli(
      [...args('--path', overlay('api'), '--image', 'ghcr.io/acme/api:1.1.0', '--json')],
      {GITOPS_TOKEN: PLAIN_TOKEN}
    )
    expect(plain.code).toBe(0)
    expect(JSON.parse(plain.stdout)).toMatchObject({verified: false, verification: 'unsigned'})
  })

  it('a branch that requires signed commits refuses an unsigned API commit (exit 1, nothing written)', async () => {
    await repo.git(['branch', 'signed-only', 'main'])
    const before = await repo.head('signed-only')
    const r = await cli(
      [
        ...args(
          '--branch',
          'signed-only',
          '--path',
          overlay('web'),
          '--image',
          'ghcr.io/acme/web:1.1.0'
        )
      ],
      {GITOPS_TOKEN: PLAIN_TOKEN}
    )
    expect(r.code).toBe(1)
    expect(r.stdout + r.stderr).toMatch(/protected.*verified signatures/s)
    expect(await repo.head('signed-only')).toBe(before)
  })

  it('falls back to git when GHES has no GraphQL (auto), and refuses with exit 2 when api was explicit', async () => {
    gh.graphqlSupport = 'none'
    const explicit = await cli(
      [
        ...args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.1.0', '--transport', 'api')
      ],
      {GITOPS_TOKEN: APP_TOKEN}
    )
    expect(explicit.code).toBe(2)
    expect(explicit.stderr).toMatch(
      /--transport api cannot be used: .*cannot create commits through its API.*HTTP 404.*--transport git or auto/
    )
    expect(tagOf(await repo.readFile(kfile('web')))).toBe('1.0.0')

    gh.graphqlSupport = 'no-commit-mutation'
    const auto = await cli(
      [...args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.1.0', '--json')],
      {GITOPS_TOKEN: APP_TOKEN}
    )
    expect(auto.code).toBe(0)
    const out = JSON.parse(auto.stdout)
    expect(out).toMatchObject({pushed: true, transport: 'git', verified: null})
    expect(out.transportReason).toMatch(
      /fell back to git because .*createCommitOnBranch' doesn't exist/s
    )
    expect(auto.stderr).toMatch(/warning: transport: falling back to git/)
    const [head] = await repo.log()
    expect(head.author).toBe(`${DEFAULT_AUTHOR.name} <${DEFAULT_AUTHOR.email}>`)
    expect(tagOf(await repo.readFile(kfile('web')))).toBe('1.1.0')
  })

  it('falls back to git when the tree listing is truncated', async () => {
    gh.treeLimit = 3
    const r = await cli(
      [...args('--path', 'apps/*/overlays/dev', '--image', 'ghcr.io/acme/worker:5.0.0', '--json')],
      {GITOPS_TOKEN: APP_TOKEN}
    )
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.transport).toBe('git')
    expect(out.transportReason).toMatch(/truncated the tree listing/)
    expect(tagOf(await repo.readFile(kfile('worker')))).toBe('5.0.0')
  })

  it('uses git for a host that is neither GitHub nor GitLab; --transport api is then a usage error', async () => {
    const plain = [
      'set-image',
      '--repo',
      repo.url,
      '--path',
      overlay('web'),
      '--image',
      'ghcr.io/acme/web:1.1.0'
    ]
    const auto = await cli([...plain, '--json'], {GITOPS_TOKEN: APP_TOKEN})
    expect(auto.code).toBe(0)
    expect(JSON.parse(auto.stdout)).toMatchObject({transport: 'git', pushed: true})
    expect(JSON.parse(auto.stdout).transportReason).toMatch(/not a known GitHub\/GitLab host/)
    const noToken = await cli(
      [...args('--path', overlay('api'), '--image', 'ghcr.io/acme/api:1.1.0', '--json')],
      {}
    )
    expect(JSON.parse(noToken.stdout)).toMatchObject({
      transport: 'git',
      transportReason: 'auto: no API token in GITOPS_TOKEN'
    })
    const explicit = await cli([...plain, '--transport', 'api'], {GITOPS_TOKEN: APP_TOKEN})
    expect(explicit.code).toBe(2)
    expect(explicit.stderr).toMatch(
      /--transport api needs a GitHub or GitLab repository: cannot tell/
    )
    const bad = await cli([...plain, '--transport', 'carrier-pigeon'], {GITOPS_TOKEN: APP_TOKEN})
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--transport 'carrier-pigeon' is not known/)
    const verifiedGit = await cli([...plain, '--require-verified'], {GITOPS_TOKEN: APP_TOKEN})
    expect(verifiedGit.code).toBe(2)
    expect(verifiedGit.stderr).toMatch(/--require-verified needs the API transport.*never verified/)
  })

  it('promote --mode push commits through the API too', async () => {
    const files = configFiles(APPS)
    files['.gitops-deploy.yaml'] =
      'environments:\n  - name: dev\n    path: apps/{app}/overlays/dev\n  - name: prod\n    path: apps/{app}/overlays/prod\n'
    files[kfile('web')] = files[kfile('web')]!.replace('1.0.0', '1.7.0')
    await repo.dispose()
    repo = await transportRepo(files)
    ;(gh as unknown as {repos: {gitDir: string}[]}).repos[0].gitDir = repo.dir
    const r = await cli(
      [
        'promote',
        '--repo',
        repo.url,
        '--provider',
        'github',
        '--api-url',
        gh.apiUrl,
        '--from',
        'dev',
        '--next',
        '--mode',
        'push',
        '--json'
      ],
      {GITOPS_TOKEN: APP_TOKEN}
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({outcome: 'pushed', transport: 'api', verified: true, attempts: 1})
    expect(tagOf(await repo.readFile(kfile('web', 'prod')))).toBe('1.7.0')
    expect(tagOf(await repo.readFile(kfile('api', 'prod')))).toBe('1.0.0')
    const [head] = await repo.log()
    expect(head.subject).toBe('Promote dev to prod: web')
    expect(head.body).toContain('Promoted-From: dev\nPromoted-To: prod')
  })
})

describe('set-image --repo over the GitLab commits API: what only GitLab has', () => {
  const args = (...rest: string[]) => [
    'set-image',
    '--repo',
    repo.url,
    '--provider',
    'gitlab',
    '--api-url',
    gl.apiUrl,
    ...rest
  ]
  const commitPosts = () => gl.requests.filter(r => r.method === 'POST')

  function request(app: string, tag: string) {
    return {
      paths: [overlay(app)],
      images: [`ghcr.io/acme/${app}:${tag}`],
      sets: [],
      createKeys: false
    }
  }

  function settings() {
    return {
      repo: repo.url,
      author: DEFAULT_AUTHOR,
      authorGiven: false,
      maxAttempts: 10,
      env: {GITOPS_TOKEN: GITLAB_TOKEN},
      cwd: process.cwd(),
      backoff: {baseMs: 5, capMs: 100},
      transport: {choice: 'auto' as const, requireVerified: false},
      provider: 'gitlab',
      apiUrl: gl.apiUrl
    }
  }

  it('reads answered 502 are retried with backoff and the commit lands', async () => {
    const before = await repo.head()
    gl.inject({
      method: 'GET',
      path: /\/repository\/tree$/,
      status: 502,
      body: '502 Bad Gateway',
      times: 2
    })
    const r = await cli(
      args(
        '--path',
        overlay('web'),
        '--image',
        'ghcr.io/acme/web:1.1.0',
        '--transport',
        'api',
        '--json'
      ),
      {GITOPS_TOKEN: GITLAB_TOKEN}
    )
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({pushed: true, attempts: 1, transport: 'api'})
    expect(gl.requests.filter(q => q.status === 502)).toHaveLength(2)
    expect(commitPosts()).toHaveLength(1)
    expect((await repo.log())[0].parents).toEqual([before])
    expect(await repo.readFile(kfile('web'))).toContain('newTag: 1.1.0')
  })

  it('a GitLab that keeps failing stops after 3 tries, says so, and leaves the remote alone', async () => {
    const before = await repo.head()
    gl.inject({
      method: 'GET',
      path: /\/repository\/tree$/,
      status: 503,
      body: {message: '503 Service Unavailable'},
      times: 100
    })
    const r = await cli(
      args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.1.0', '--transport', 'api'),
      {GITOPS_TOKEN: GITLAB_TOKEN}
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /HTTP 503 \(after 3 attempts\) 503 Service Unavailable; retry later; if it persists, check the GitLab instance/
    )
    expect(gl.requests.filter(q => q.status === 503)).toHaveLength(3)
    expect(commitPosts()).toHaveLength(0)
    expect(await repo.head()).toBe(before)
  })

  it('4xx answers are not retried', async () => {
    gl.inject({
      method: 'GET',
      path: /\/repository\/tree$/,
      status: 403,
      body: {message: '403 Forbidden'},
      times: 100
    })
    const r = await cli(
      args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.1.0', '--transport', 'api'),
      {GITOPS_TOKEN: GITLAB_TOKEN}
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/HTTP 403 403 Forbidden; give the token the api scope/)
    expect(gl.requests.filter(q => q.status === 403)).toHaveLength(1)
  })

  it('the commit POST answered 502 is not replayed: exit 1 with the status, one POST', async () => {
    // gitbeaker replays 429/502 up to 10 times for any method; the commit POST stays on fetch.
    const before = await repo.head()
    gl.inject({
      method: 'POST',
      path: /\/repository\/commits$/,
      status: 502,
      body: '502 Bad Gateway'
    })
    const r = await cli(
      args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.1.0', '--transport', 'api'),
      {GITOPS_TOKEN: GITLAB_TOKEN}
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /GitLab could not commit to main at .*: HTTP 502 502 Bad Gateway; retry later; if it persists, check the GitLab instance/
    )
    expect(commitPosts().map(p => p.status)).toEqual([502])
    expect(await repo.head()).toBe(before)
    expect(r.stderr).not.toContain(GITLAB_TOKEN)
  })

  it('a tree listing over 100 entries is read page by page (x-next-page)', async () => {
    await repo.dispose()
    await useRepo(await transportRepo(configFiles(Array.from({length: 16}, (_, i) => `app${i}`))))
    const r = await cli(
      args('--path', 'apps/*/overlays/prod', '--image', 'ghcr.io/acme/app15:2.0.0', '--json'),
      {GITOPS_TOKEN: GITLAB_TOKEN}
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({pushed: true, transport: 'api'})
    const pages = gl.requests
      .filter(q => q.method === 'GET' && /\/repository\/tree\?/.test(q.path))
      .map(q => new URL(q.path, gl.origin).searchParams)
    expect(pages.map(q => [q.get('recursive'), q.get('per_page'), q.get('page')])).toEqual([
      ['true', '100', '1'],
      ['true', '100', '2']
    ])
    expect(tagOf(await repo.readFile(kfile('app15', 'prod')))).toBe('2.0.0')
  })

  it('a writer to another file in between does not cost a retry', async () => {
    let raced = false
    gl.beforeHandle = async (method, path) => {
      if (raced || method !== 'POST' || !path.endsWith('/repository/commits')) return
      raced = true
      await repo.commit(
        {[kfile('api')]: (await repo.readFile(kfile('api'))).replace('1.0.0', '7.0.0')},
        'other writer'
      )
    }
    const r = await runRemoteSetImage(
      request('web', '1.3.0'),
      settings(),
      false,
      memoryPlatform(new Redactor())
    )
    expect(r.remote).toMatchObject({pushed: true, attempts: 1})
    const [ours, other] = await repo.log()
    expect(other.subject).toBe('other writer')
    expect(ours.parents).toEqual([other.sha])
    expect(tagOf(await repo.readFile(kfile('api')))).toBe('7.0.0')
    expect(tagOf(await repo.readFile(kfile('web')))).toBe('1.3.0')
  })

  it('--require-verified: GitLab reports no signature for API commits, the run fails loudly', async () => {
    const r = await cli(
      [
        ...args(
          '--path',
          overlay('web'),
          '--image',
          'ghcr.io/acme/web:1.1.0',
          '--require-verified',
          '--json'
        )
      ],
      {GITOPS_TOKEN: GITLAB_TOKEN}
    )
    expect(r.code).toBe(1)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({pushed: true, verified: false, verification: 'unsigned'})
    expect(out.error).toMatch(/GitLab reports no verified signature/)
    gl.signed.add(out.commit)
    // A commit GitLab does report as verified passes.
    const ok = await cli(
      [
        ...args(
          '--path',
          overlay('api'),
          '--image',
          'ghcr.io/acme/api:1.1.0',
          '--require-verified',
          '--json'
        )
      ],
      {GITOPS_TOKEN: GITLAB_TOKEN}
    )
    const second = JSON.parse(ok.stdout)
    expect(second.verified).toBe(false)
    gl.signed.add(second.commit)
    const third = await cli(
      [
        ...args(
          '--path',
          overlay('api'),
          '--image',
          'ghcr.io/acme/api:1.1.0',
          '--require-verified',
          '--json'
        )
      ],
      {GITOPS_TOKEN: GITLAB_TOKEN}
    )
    expect(third.code).toBe(0)
    expect(JSON.parse(third.stdout)).toMatchObject({changed: false, pushed: false})
  })

  it('promote --mode push: kustomizations via the files API, one commit', async () => {
    const files = configFiles(APPS)
    files['.gitops-deploy.yaml'] =
      'environments:\n  - name: dev\n    path: apps/{app}/overlays/dev\n  - name: prod\n    path: apps/{app}/overlays/prod\n'
    files[kfile('api')] = files[kfile('api')]!.replace('1.0.0', '2.5.0')
    files['apps/api/overlays/dev/app.properties'] = 'level=debug\n'
    await repo.dispose()
    await useRepo(await transportRepo(files))
    const r = await cli(
      [
        'promote',
        '--repo',
        repo.url,
        '--provider',
        'gitlab',
        '--api-url',
        gl.apiUrl,
        '--from',
        'dev',
        '--to',
        'prod',
        '--files',
        '*.properties',
        '--mode',
        'push',
        '--json'
      ],
      {GITOPS_TOKEN: GITLAB_TOKEN}
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({outcome: 'pushed', transport: 'api', attempts: 1})
    expect(tagOf(await repo.readFile(kfile('api', 'prod')))).toBe('2.5.0')
    expect(await repo.readFile('apps/api/overlays/prod/app.properties')).toBe('level=debug\n')
    const actions = (commitPosts()[0].body as {actions: {action: string; file_path: string}[]})
      .actions
    expect(actions.map(a => [a.action, a.file_path])).toEqual([
      ['update', kfile('api', 'prod')],
      ['create', 'apps/api/overlays/prod/app.properties']
    ])
  })
})
