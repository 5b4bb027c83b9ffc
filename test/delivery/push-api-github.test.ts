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
import {
  APP_TOKEN,
  APPS,
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

let repo: TransportRepo
let gh: GitHubDouble

beforeAll(async () => {
  gh = await GitHubDouble.start({
    token: APP_TOKEN,
    tokens: [PAT, PLAIN_TOKEN],
    repos: []
  })
})

afterAll(async () => {
  await gh.close()
})

beforeEach(async () => {
  repo = await transportRepo()
  // The double serves whichever bare repo the test made.
  ;(gh as unknown as {repos: unknown[]}).repos.splice(0, 1, {
    owner: 'acme',
    repo: 'config',
    gitDir: repo.dir,
    requireSignedCommits: ['signed-only']
  })
  gh.graphqlSupport = 'full'
  gh.treeLimit = 100_000
  gh.beforeHandle = undefined
  gh.requests.length = 0
})

afterEach(async () => {
  expect(gh.violations).toEqual([])
  await repo.fsck()
  await repo.dispose()
})

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

describe('set-image --repo over the GitHub API (createCommitOnBranch)', () => {
  it('auto picks the API with a token: one verified commit, authored by the token, no clone', async () => {
    const before = await repo.head()
    const r = await cli(
      [...args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.1.0', '--json')],
      {GITOPS_TOKEN: APP_TOKEN}
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({
      changed: true,
      pushed: true,
      attempts: 1,
      transport: 'api',
      verified: true,
      verification: 'valid',
      branch: 'main'
    })
    expect(out.transportReason).toMatch(/^auto: GitHub API at http:\/\/127\.0\.0\.1:\d+\/api\/v3/)
    const [head] = await repo.log()
    expect(head.sha).toBe(out.commit)
    expect(head.parents).toEqual([before])
    expect(head.author).toBe(
      'github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>'
    )
    expect(head.subject).toMatch(/web/)
    expect(tagOf(await repo.readFile(kfile('web')))).toBe('1.1.0')
    // Only the one file changed, every other byte kept.
    expect((await repo.git(['diff', '--name-only', before, head.sha])).trim()).toBe(kfile('web'))
    expect(await repo.readFile(kfile('web'))).toContain('newTag: 1.1.0 # bumped by CI')
    // Default branch, ref, directory listing, blob, mutation, verification: six round trips.
    expect(gh.requests.map(q => q.operationId)).toEqual([
      'repos/get',
      'git/get-ref',
      'repos/get-content',
      'git/get-blob',
      'graphql',
      'repos/get-commit'
    ])
    // The token travels in the Authorization header only, never in a URL.
    expect(gh.requests.map(q => q.path).join('\n')).not.toContain(APP_TOKEN.slice(4))
    expect(r.stdout + r.stderr).not.toContain(APP_TOKEN)
  })

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
          '--json'
        )
      ],
      {GITOPS_TOKEN: APP_TOKEN}
    )
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    // Like kustomize, an image missing from a kustomization is added to it (worker gains both).
    expect(out.files).toEqual([kfile('api', 'prod'), kfile('web', 'prod'), kfile('worker', 'prod')])
    expect(tagOf(await repo.readFile(kfile('web', 'prod')))).toBe('3.0.0')
    expect(tagOf(await repo.readFile(kfile('api', 'prod')))).toBe('3.0.0')
    expect(await repo.readFile(kfile('worker', 'prod'))).toContain('name: ghcr.io/acme/web')
    expect(tagOf(await repo.readFile(kfile('worker', 'dev')))).toBe('1.0.0')
    expect(gh.requests.filter(q => q.operationId === 'git/get-tree')).toHaveLength(1)
    expect(graphqlCalls()).toHaveLength(1)
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
        'github',
        '--api-url',
        gh.apiUrl,
        '--image',
        'ghcr.io/acme/root:2.0.0',
        '--set',
        'helm/values.yaml:image.tag=2.0.0',
        '--json'
      ],
      {GITOPS_TOKEN: APP_TOKEN}
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).files).toEqual(['helm/values.yaml', 'kustomization.yaml'])
    expect(await repo.readFile('helm/values.yaml')).toBe('image:\n  tag: 2.0.0 # keep me\n')
    expect(tagOf(await repo.readFile('kustomization.yaml'))).toBe('2.0.0')
    const trees = gh.requests.filter(q => q.operationId === 'git/get-tree')
    expect(trees.map(q => q.path)).toEqual([expect.not.stringContaining('recursive')])
  })

  it('re-running is a no-op and --dry-run writes nothing', async () => {
    const a = [...args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.1.0', '--json')]
    expect((await cli(a, {GITOPS_TOKEN: APP_TOKEN})).code).toBe(0)
    const head = await repo.head()
    const again = JSON.parse((await cli(a, {GITOPS_TOKEN: APP_TOKEN})).stdout)
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
      {GITOPS_TOKEN: APP_TOKEN}
    )
    expect(JSON.parse(dry.stdout)).toMatchObject({changed: true, pushed: false, dryRun: true})
    expect(await repo.head()).toBe(head)
  })

  it('retries on a moved branch: re-reads, re-applies on the new tip, lands', async () => {
    let raced = false
    gh.beforeHandle = async (method, path) => {
      if (raced || path !== '/api/graphql') return
      raced = true
      // Another writer changes the same file between our read and our commit.
      await repo.commit(
        {
          [kfile('web')]: (await repo.readFile(kfile('web'))).replace(
            'bumped by CI',
            'edited by a human'
          )
        },
        'human edit'
      )
    }
    const r = await cli(
      [...args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.2.0', '--json')],
      {GITOPS_TOKEN: APP_TOKEN}
    )
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({pushed: true, attempts: 2, transport: 'api'})
    const text = await repo.readFile(kfile('web'))
    // Both edits survive: ours was re-applied on the human's commit, not on the stale read.
    expect(text).toContain('newTag: 1.2.0 # edited by a human')
    const [ours, human] = await repo.log()
    expect(human.subject).toBe('human edit')
    expect(ours.parents).toEqual([human.sha])
    expect(graphqlCalls()).toHaveLength(2)
  })

  it('16 concurrent writers on different files all land (with retries)', async () => {
    const files = configFiles(Array.from({length: 16}, (_, i) => `app${i}`))
    await repo.dispose()
    repo = await transportRepo(files)
    ;(gh as unknown as {repos: {gitDir: string}[]}).repos[0].gitDir = repo.dir
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
          {
            repo: repo.url,
            author: DEFAULT_AUTHOR,
            authorGiven: false,
            maxAttempts: 40,
            env: {GITOPS_TOKEN: APP_TOKEN},
            cwd: process.cwd(),
            backoff: {baseMs: 5, capMs: 300},
            apiMsPerSecond: 1,
            transport: {choice: 'api', requireVerified: true},
            provider: 'github',
            apiUrl: gh.apiUrl
          },
          false,
          memoryPlatform(redactor)
        )
      )
    )
    for (const r of results) {
      expect(r.remote).toMatchObject({pushed: true, transport: 'api', verified: true})
      expect(r.remote.rejected).toBeUndefined()
    }
    const attempts = results.map(r => r.remote.attempts)
    // GitHub's createCommitOnBranch is conditional on the whole branch: simultaneous writers retry.
    expect(Math.max(...attempts)).toBeGreaterThan(1)
    for (let i = 0; i < 16; i++)
      expect(tagOf(await repo.readFile(kfile(`app${i}`)))).toBe(`race-${i}`)
    expect((await repo.log('main', 100)).filter(c => c.subject !== 'Initial config')).toHaveLength(
      16
    )
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
