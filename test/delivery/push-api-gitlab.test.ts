import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {Redactor} from '../../src/core/redact.js'
import {runRemoteSetImage} from '../../src/commands/set-image.js'
import {DEFAULT_AUTHOR} from '../../src/delivery/options.js'
import {memoryPlatform} from '../../src/platform/port.js'
import {GitLabDouble, type GlProject} from '../doubles/gitlab-double.js'
import {
  APPS,
  GITLAB_TOKEN,
  cli,
  configFiles,
  kfile,
  overlay,
  tagOf,
  transportRepo,
  type TransportRepo
} from './helpers.js'
import {fakeToken} from '../helpers/fake-token.js'

let repo: TransportRepo
let gl: GitLabDouble
const project: GlProject = {id: 42, path: 'acme/config', gitDir: ''}

beforeAll(async () => {
  gl = await GitLabDouble.start({projects: [project], token: GITLAB_TOKEN})
})

afterAll(async () => {
  await gl.close()
})

async function useRepo(r: TransportRepo) {
  repo = r
  project.gitDir = r.dir
}

beforeEach(async () => {
  await useRepo(await transportRepo())
  gl.beforeHandle = undefined
  gl.clearFailures()
  gl.requests.length = 0
})

afterEach(async () => {
  expect(gl.violations).toEqual([])
  await repo.fsck()
  await repo.dispose()
})

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

describe('set-image --repo over the GitLab commits API', () => {
  it('makes one commit with the given author and last_commit_id on the updated file', async () => {
    const before = await repo.head()
    const r = await cli(
      [
        ...args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.1.0', '--json'),
        '--author',
        'Deploy Bot <deploy@example.com>'
      ],
      {GITOPS_TOKEN: GITLAB_TOKEN}
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({pushed: true, attempts: 1, transport: 'api', verified: null})
    expect(out.transportReason).toMatch(/^auto: GitLab API at http:\/\/127\.0\.0\.1:\d+\/api\/v4/)
    const [head] = await repo.log()
    expect(head.sha).toBe(out.commit)
    expect(head.parents).toEqual([before])
    expect(head.author).toBe('Deploy Bot <deploy@example.com>')
    expect(await repo.readFile(kfile('web'))).toContain('newTag: 1.1.0 # bumped by CI')
    const [post] = commitPosts()
    const body = post.body as {
      actions: {action: string; file_path: string; last_commit_id?: string}[]
    }
    expect(body.actions).toEqual([
      expect.objectContaining({action: 'update', file_path: kfile('web'), last_commit_id: before})
    ])
    expect(gl.requests.map(q => q.path).join('\n')).not.toContain(GITLAB_TOKEN)
    expect(r.stdout).not.toContain(GITLAB_TOKEN)
  })

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

  it('16 concurrent writers on different files all land on the first attempt', async () => {
    await repo.dispose()
    await useRepo(await transportRepo(configFiles(Array.from({length: 16}, (_, i) => `app${i}`))))
    const redactor = new Redactor()
    const results = await Promise.all(
      Array.from({length: 16}, (_, i) =>
        runRemoteSetImage(
          request(`app${i}`, `race-${i}`),
          settings(),
          false,
          memoryPlatform(redactor)
        )
      )
    )
    expect(results.map(r => [r.remote.pushed, r.remote.attempts, r.remote.transport])).toEqual(
      Array.from({length: 16}, () => [true, 1, 'api'])
    )
    for (let i = 0; i < 16; i++)
      expect(tagOf(await repo.readFile(kfile(`app${i}`)))).toBe(`race-${i}`)
    expect((await repo.log('main', 100)).filter(c => c.subject !== 'Initial config')).toHaveLength(
      16
    )
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

  it('detects a writer to the same file (last_commit_id) and retries on the new content', async () => {
    let raced = false
    gl.beforeHandle = async (method, path) => {
      if (raced || method !== 'POST' || !path.endsWith('/repository/commits')) return
      raced = true
      const text = await repo.readFile(kfile('web'))
      await repo.commit(
        {[kfile('web')]: text.replace('bumped by CI', 'edited by a human')},
        'human edit'
      )
    }
    const platform = memoryPlatform(new Redactor())
    const r = await runRemoteSetImage(request('web', '1.4.0'), settings(), false, platform)
    expect(r.remote).toMatchObject({pushed: true, attempts: 2})
    expect(await repo.readFile(kfile('web'))).toContain('newTag: 1.4.0 # edited by a human')
    expect(platform.lines.join('\n')).toMatch(
      /has changed since you started editing it.*attempt 2 of 10/
    )
    expect(commitPosts().map(p => p.status)).toEqual([400, 201])
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
          settings(),
          false,
          memoryPlatform(redactor)
        )
      )
    )
    // Each sets the same key: all land in some order, and conflicts were detected, not lost.
    for (const r of results) expect(r.remote).toMatchObject({pushed: true})
    expect(Math.max(...results.map(r => r.remote.attempts))).toBeGreaterThan(1)
    expect(commitPosts().filter(p => p.status === 400).length).toBeGreaterThan(0)
    const log = await repo.log()
    expect(log.filter(c => c.subject !== 'Initial config')).toHaveLength(4)
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

  it('a wrong token exits 1 naming the variable and the scope, remote untouched', async () => {
    const before = await repo.head()
    const wrong = fakeToken('glpat-', 'wrong')
    const r = await cli(
      [
        ...args('--path', overlay('web'), '--image', 'ghcr.io/acme/web:1.1.0', '--transport', 'api')
      ],
      {GITOPS_TOKEN: wrong}
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/HTTP 401.*GITOPS_TOKEN.*api scope/)
    expect(r.stderr).not.toContain(wrong)
    expect(await repo.head()).toBe(before)
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
