/**
 * The write path under attack (issue 17): a real smart-HTTP server with token
 * auth on loopback, a redirecting front server, a config repo that carries a
 * planted symlink, and tokens in every spelling of --repo.
 */
import {spawn} from 'node:child_process'
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {Redactor} from '../../src/core/redact.js'
import {execGit} from '../../src/git/exec.js'
import {cli as rawCli} from '../helpers/cli.js'
import {fakeToken} from '../helpers/fake-token.js'
import {exampleFiles, fastImport, makeBareRepo, type BareRepo} from '../helpers/git-fixtures.js'
import {startGitHttpServer, type GitHttpServer} from '../helpers/git-http-server.js'

const STAGING = 'apps/web/overlays/staging'
const TOKEN = fakeToken('ghs_', 'Security')

let repo: BareRepo | undefined
let server: GitHttpServer | undefined
let front: Server | undefined
const dirs: string[] = []
afterEach(async () => {
  await server?.close()
  server = undefined
  await new Promise(r => (front ? front.close(r) : r(undefined)))
  front = undefined
  await repo?.cleanup()
  repo = undefined
  for (const d of dirs.splice(0)) await rm(d, {recursive: true, force: true})
})

const cli = (args: string[], env: Record<string, string> = {}) =>
  rawCli(['set-image', ...args], env)
const deploy = (url: string, tag: string) =>
  cli(['--repo', url, '--path', STAGING, '--image', `ghcr.io/acme/web:${tag}`])

async function served(): Promise<{url: string; env: Record<string, string>}> {
  repo = await makeBareRepo(await exampleFiles())
  server = await startGitHttpServer({
    root: join(repo.dir, '..'),
    credentials: [{user: 'x-access-token', password: TOKEN, access: 'write'}]
  })
  return {url: server.repoUrl('config.git'), env: {GITOPS_TOKEN: TOKEN}}
}

/** A commit on main with entries of any mode (120000: a symlink whose content is its target). */
async function commitEntries(
  bare: BareRepo,
  parent: string,
  message: string,
  entries: [mode: string, path: string, content: string][]
): Promise<void> {
  const lines = [
    'commit refs/heads/main',
    'committer Fixture <fixture@example.com> 1700001000 +0000',
    `data ${Buffer.byteLength(message)}`,
    message,
    `from ${parent}`
  ]
  for (const [mode, path, content] of entries) {
    lines.push(`M ${mode} inline ${path}`, `data ${Buffer.byteLength(content)}`, content)
  }
  await fastImport(bare.dir, [...lines, ''].join('\n'))
}

describe('the token never reaches another origin', () => {
  it('a redirect to another host is refused with the fix; the target never sees an Authorization header', async () => {
    const {url, env} = await served()
    const seen: {url: string; authorization?: string}[] = []
    front = createServer((req, res) => {
      seen.push({url: req.url ?? '', authorization: req.headers.authorization})
      // Same path on the real git server, another port: another origin.
      res.writeHead(302, {Location: `${server!.url}${req.url}`})
      res.end()
    })
    await new Promise<void>(r => front!.listen(0, '127.0.0.1', r))
    const frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}/config.git`
    const head = await repo!.head()
    const r = await cli(
      ['--repo', frontUrl, '--path', STAGING, '--image', 'ghcr.io/acme/web:9.9.9'],
      env
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /answered with a redirect .* which is not followed while a token is set, so the token never reaches another host; pass the repository's current URL as --repo/
    )
    expect(server!.requests).toEqual([])
    expect(seen.length).toBeGreaterThan(0)
    expect(await repo!.head()).toBe(head)
    expect(r.stdout + r.stderr).not.toContain(TOKEN)
    // Without a token, a redirect is followed as git does by default (nothing to leak).
    expect(url).toMatch(/^http:/)
  })

  it('a 401 is final: git is given no fake credentials to retry with', async () => {
    const {url} = await served()
    const r = await cli(['--repo', url, '--path', STAGING, '--image', 'ghcr.io/acme/web:9.9.9'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/requires authentication and no token was given; set GITOPS_TOKEN/)
    // One refused request per attempt, never a second one carrying a made-up user.
    expect(server!.requests.every(q => q.status === 401 && q.user === undefined)).toBe(true)
  })
})

describe('tokens in --repo', () => {
  it('are refused in every scheme and spelling, and never printed', async () => {
    const values = [
      `htps://bot:${TOKEN}@example.com/acme/config`,
      `https://bot:${TOKEN}@example.com:99999/acme/config`,
      `https//bot:${TOKEN}@example.com/acme/config`,
      `https:/bot:${TOKEN}@example.com/acme/config`,
      `ssh://git:${TOKEN}@example.com/acme/config`,
      `git://x:${TOKEN}@example.com/acme/config`,
      `git:${TOKEN}@example.com:acme/config`,
      `https://${TOKEN}@example.com/acme/config`
    ]
    for (const value of values) {
      const r = await cli(['--repo', value, '--path', STAGING, '--image', 'ghcr.io/acme/web:1'])
      expect(r.code, value).toBe(2)
      expect(r.stderr, value).toMatch(
        /--repo contains a password or token; remove it from the URL and set GITOPS_TOKEN/
      )
      expect(r.stdout + r.stderr, value).not.toContain(TOKEN)
    }
  })
})

describe('git children', () => {
  it('do not get the raw tokens in their environment', async () => {
    const names = ['GITOPS_TOKEN', 'INPUT_TOKEN', 'GITHUB_TOKEN', 'ARGOCD_AUTH_TOKEN']
    const saved = names.map(n => process.env[n])
    const redactor = new Redactor()
    const other = fakeToken('glpat-', 'Other')
    redactor.add(other)
    try {
      for (const n of names) process.env[n] = TOKEN
      process.env.SOME_DEPLOY_SECRET = other
      const out = await execGit(['-c', 'alias.envdump=!env', 'envdump'], {
        cwd: tmpdir(),
        env: {GITOPS_TOKEN: TOKEN},
        redactor,
        config: {'http.https://example.com/.extraHeader': 'Authorization: Basic abc'}
      })
      for (const n of names) expect(out.stdout).not.toMatch(new RegExp(`^${n}=`, 'm'))
      expect(out.stdout).not.toContain(TOKEN)
      expect(out.stdout).not.toContain(other)
      // The header git needs still arrives, through the config channel.
      expect(out.stdout).toContain('GIT_CONFIG_VALUE_0=Authorization: Basic abc')
    } finally {
      names.forEach((n, i) => {
        if (saved[i] === undefined) delete process.env[n]
        else process.env[n] = saved[i]
      })
      delete process.env.SOME_DEPLOY_SECRET
    }
  })
})

describe('.git is not a place to edit', () => {
  it('--set .git/config is refused remotely (exit 2), the remote untouched', async () => {
    const {url, env} = await served()
    const head = await repo!.head()
    for (const set of ['.git/config:core.fsmonitor=touch /tmp/pwned', '.GIT/hooks/x.yaml:a=b']) {
      const r = await cli(['--repo', url, '--set', set], env)
      expect(r.code, set).toBe(2)
      expect(r.stderr).toMatch(/is inside \.git, git's own files \(config, hooks\)/)
    }
    expect(await repo!.head()).toBe(head)
  })
})

describe("a symlink committed at the writer's old temporary name", () => {
  it('is never written through; the kustomization is pushed as a regular file', async () => {
    repo = await makeBareRepo(await exampleFiles())
    const outside = await mkdtemp(join(tmpdir(), 'victim-'))
    dirs.push(outside)
    const victim = join(outside, 'victim.txt')
    await writeFile(victim, 'keep\n')
    const link = `${STAGING}/.kustomization.yaml.gitops-deploy-${process.pid}.tmp`
    const parent = await repo.head()
    await commitEntries(repo, parent, 'plant a link', [['120000', link, victim]])
    const r = await deploy(repo.url, '7.7.7')
    expect(r.code, r.stderr).toBe(0)
    expect(await readFile(victim, 'utf8')).toBe('keep\n')
    const tree = await repo.git(['ls-tree', 'main', `${STAGING}/`])
    expect(tree).toMatch(/^100644 blob \S+\tapps\/web\/overlays\/staging\/kustomization\.yaml$/m)
    expect(tree).toMatch(/^120000 blob \S+\t.*gitops-deploy-\d+\.tmp$/m)
    expect(await repo.readFile(`${STAGING}/kustomization.yaml`)).toContain('newTag: 7.7.7')
  })
})

describe('faults', () => {
  it('a push that landed but whose answer was lost (the duplicate was refused) is reported as landed', async () => {
    const {url, env} = await served()
    server!.duplicateNextPush()
    const r = await cli(
      ['--repo', url, '--path', STAGING, '--image', 'ghcr.io/acme/web:8.8.8', '--json'],
      env
    )
    expect(r.code, r.stderr).toBe(0)
    const json = JSON.parse(r.stdout)
    const head = await repo!.head()
    expect(json).toMatchObject({changed: true, pushed: true, commit: head})
    expect((await repo!.log()).length).toBe(2)
    await repo!.fsck()
  })
})

describe('SIGTERM while a push is in flight', () => {
  it('stops git, removes the clone and exits 1 saying the outcome is unknown', async () => {
    const {url, env} = await served()
    server!.holdNextPush()
    const tmp = await mkdtemp(join(tmpdir(), 'sigterm-'))
    dirs.push(tmp)
    const tsx = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'tsx')
    const entry = join(import.meta.dirname, '..', '..', 'src', 'cli.ts')
    const child = spawn(
      tsx,
      [entry, 'set-image', '--repo', url, '--path', STAGING, '--image', 'ghcr.io/acme/web:6.6.6'],
      {env: {...process.env, ...env, TMPDIR: tmp}, stdio: ['ignore', 'pipe', 'pipe']}
    )
    let stderr = ''
    child.stderr.on('data', d => (stderr += d))
    const exited = new Promise<number | null>(r => child.on('close', code => r(code)))
    const head = await repo!.head()
    for (let i = 0; i < 400; i++) {
      if (server!.requests.some(q => q.method === 'POST' && q.service === 'git-receive-pack')) break
      await new Promise(r => setTimeout(r, 50))
    }
    expect(server!.requests.some(q => q.service === 'git-receive-pack')).toBe(true)
    // tsx runs the CLI in a child of its own and passes the signal on.
    child.kill('SIGTERM')
    expect(await exited).toBe(1)
    expect(stderr).toMatch(
      /^error: interrupted by SIGTERM; 1 git process was stopped, so whether the push landed is unknown; re-run the job/m
    )
    // (tsx keeps its compile cache there too.)
    expect((await readdir(tmp)).filter(n => n.startsWith('gitops-deploy'))).toEqual([])
    await new Promise(r => setTimeout(r, 500))
    expect(await repo!.head()).toBe(head)
    expect(stderr).not.toContain(TOKEN)
  })
})

describe('a remote kustomization that is a symlink to a file in another directory', () => {
  it('is edited through the link (the sparse checkout follows it), the link kept', async () => {
    repo = await makeBareRepo(await exampleFiles())
    const parent = await repo.head()
    const shared = 'shared/web-staging/kustomization.yaml'
    const text = await repo.readFile(`${STAGING}/kustomization.yaml`)
    const target = '../../../../shared/web-staging/kustomization.yaml'
    await commitEntries(repo, parent, 'link staging', [
      ['100644', shared, text],
      ['120000', `${STAGING}/kustomization.yaml`, target]
    ])
    const r = await deploy(repo.url, '5.4.3')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(await repo.readFile(shared)).toContain('newTag: 5.4.3')
    const tree = await repo.git(['ls-tree', 'main', `${STAGING}/kustomization.yaml`])
    expect(tree).toMatch(/^120000 /)
  })
})

describe('plain http', () => {
  it('a token is never sent over http:// to a host other than loopback (exit 2, nothing sent)', async () => {
    const r = await cli(
      ['--repo', 'http://git.example.com/acme/config.git', '--path', STAGING, '--image', 'web:1'],
      {GITOPS_TOKEN: TOKEN}
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      'error: refusing to send the token in GITOPS_TOKEN over plain http:// to git.example.com; use the https:// URL of the config repo\n'
    )
  })
})
