import {existsSync} from 'node:fs'
import {chmod, readdir, readFile, writeFile} from 'node:fs/promises'
import {delimiter, join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {OperationError} from '../../src/core/errors.js'
import {Redactor} from '../../src/core/redact.js'
import {remoteWrite, type RemoteWriteOptions} from '../../src/delivery/push-git.js'
import {appsTree, makeBareRepo, tempDir, type BareRepo} from '../helpers/git-fixtures.js'
import {startGitHttpServer, type GitHttpServer} from '../helpers/git-http-server.js'
import {tagMessage, tagPlanner, type TagOutcome} from '../git/tag-planner.js'
import {fakeToken} from '../helpers/fake-token.js'

const TOKEN = fakeToken('ghs_', 'HttpTokenabcdefXYZ')
const READ_ONLY = fakeToken('ghs_', 'ReadOnlyabcdefXYZ')
const PROD1 = 'apps/app-0001/overlays/prod'
const IMAGE1 = 'ghcr.io/acme/app-0001'
const BOT = {name: 'gitops-deploy', email: 'gitops-deploy@users.noreply.github.com'}

/** Every encoding of the token that would count as a leak. */
const leaks = (token: string, user = 'x-access-token') => [
  token,
  Buffer.from(token).toString('base64'),
  Buffer.from(`${user}:${token}`).toString('base64')
]

let repo: BareRepo
let server: GitHttpServer
let argvLog: string
let savedPath: string | undefined

beforeAll(async () => {
  // A PATH shim that records the argv of every git process we start, then
  // runs the real git: the test asserts the token never appears there.
  const shim = await tempDir('git-argv-shim-')
  argvLog = join(shim, 'argv.log')
  const realGit = (process.env.PATH ?? '')
    .split(delimiter)
    .map(d => join(d, 'git'))
    .find(p => existsSync(p))!
  await writeFile(
    join(shim, 'git'),
    `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argvLog}'\nexec '${realGit}' "$@"\n`
  )
  await chmod(join(shim, 'git'), 0o755)
  savedPath = process.env.PATH
  process.env.PATH = `${shim}${delimiter}${process.env.PATH}`
})
afterAll(() => {
  process.env.PATH = savedPath
})

async function startServer(): Promise<void> {
  repo = await makeBareRepo(appsTree(3))
  server = await startGitHttpServer({
    root: join(repo.dir, '..'),
    credentials: [
      {user: 'x-access-token', password: TOKEN, access: 'write'},
      {user: 'oauth2', password: TOKEN, access: 'write'},
      {user: 'x-access-token', password: READ_ONLY, access: 'read'}
    ]
  })
}
afterEach(async () => {
  await server?.close()
  await repo?.cleanup()
})

function options(
  env: Record<string, string>,
  over: Partial<RemoteWriteOptions<TagOutcome>> = {}
): RemoteWriteOptions<TagOutcome> {
  const redactor = new Redactor()
  return {
    repo: server.repoUrl('config.git'),
    planner: tagPlanner(PROD1, IMAGE1, '2.0.0'),
    message: tagMessage,
    author: BOT,
    maxAttempts: 3,
    dryRun: false,
    env,
    redactor,
    backoff: {baseMs: 1, capMs: 5},
    ...over
  }
}

function unexpected(result: unknown): never {
  throw new Error(`expected a failure, got ${JSON.stringify(result)}`)
}

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, {withFileTypes: true})) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await allFiles(p)))
    else out.push(p)
  }
  return out
}

describe('remoteWrite over smart HTTP with Basic auth', () => {
  it('authenticates with GITOPS_TOKEN without putting it in argv, URLs or the clone', async () => {
    await startServer()
    await writeFile(argvLog, '')
    let gitDirText = ''
    let gitConfig = ''
    const result = await remoteWrite(
      options(
        {GITOPS_TOKEN: TOKEN},
        {
          inspectClone: async dir => {
            gitConfig = await readFile(join(dir, '.git', 'config'), 'utf8')
            for (const f of await allFiles(join(dir, '.git'))) {
              if (!f.includes(`${join('.git', 'objects')}`))
                gitDirText += await readFile(f, 'latin1')
            }
          }
        }
      )
    )
    expect(result).toMatchObject({kind: 'pushed', attempts: 1})
    expect(await repo.readFile(`${PROD1}/kustomization.yaml`)).toContain('newTag: 2.0.0')
    expect(gitConfig).toContain(`url = ${server.repoUrl('config.git')}`)
    const argv = await readFile(argvLog, 'utf8')
    expect(argv).toMatch(/clone --quiet --depth 1 --filter=blob:none/)
    for (const leak of leaks(TOKEN)) {
      expect(gitDirText).not.toContain(leak)
      expect(argv).not.toContain(leak)
      expect(server.requests.map(r => r.url).join('\n')).not.toContain(leak)
      expect(JSON.stringify(result)).not.toContain(leak)
    }
    // Every request carried the token (no anonymous first attempt), clone and push alike.
    expect(server.requests.every(r => r.user === 'x-access-token' && r.status === 200)).toBe(true)
    expect(server.requests.some(r => r.service === 'git-receive-pack' && r.method === 'POST')).toBe(
      true
    )
  })

  it('uses GITOPS_TOKEN_USER as the Basic user', async () => {
    await startServer()
    const result = await remoteWrite(options({GITOPS_TOKEN: TOKEN, GITOPS_TOKEN_USER: 'oauth2'}))
    expect(result.kind).toBe('pushed')
    expect(new Set(server.requests.map(r => r.user))).toEqual(new Set(['oauth2']))
  })

  it('a wrong token fails naming the variable and the scope, never the value, and touches nothing', async () => {
    await startServer()
    const head = await repo.head()
    const wrong = fakeToken('ghs_', 'WrongTokenabcdef')
    const opts = options({GITOPS_TOKEN: wrong})
    const error = await remoteWrite(opts).then(unexpected, e => e as Error)
    expect(error).toBeInstanceOf(OperationError)
    expect(error.message).toMatch(
      /^authentication failed: the token in GITOPS_TOKEN \(user 'x-access-token'.* was rejected by 127\.0\.0\.1:\d+ .*contents: write/
    )
    for (const leak of leaks(wrong)) {
      expect(error.message).not.toContain(leak)
      expect(opts.redactor.redact(error.stack ?? '')).not.toContain(leak)
    }
    expect(await repo.head()).toBe(head)
  })

  it('a read-only token can clone but the push fails with the scope it needs', async () => {
    await startServer()
    const head = await repo.head()
    const error = await remoteWrite(options({GITOPS_TOKEN: READ_ONLY})).then(
      unexpected,
      e => e as Error
    )
    expect(error).toBeInstanceOf(OperationError)
    expect(error.message).toMatch(
      /GITOPS_TOKEN .*was accepted by 127\.0\.0\.1:\d+ but is not allowed to push to this repository; it needs write access/
    )
    expect(error.message).not.toContain(READ_ONLY)
    expect(server.requests.find(r => r.service === 'git-receive-pack')?.status).toBe(403)
    expect(await repo.head()).toBe(head)
  })

  it('without a token says which variable to set', async () => {
    await startServer()
    const error = await remoteWrite(options({})).then(unexpected, e => e as Error)
    expect(error.message).toMatch(
      /requires authentication and no token was given; set GITOPS_TOKEN/
    )
  })

  it('a server that dies mid-push leaves no partial state and a clear error', async () => {
    await startServer()
    const head = await repo.head()
    server.dieOnNextPush()
    let clone = ''
    const error = await remoteWrite(
      options({GITOPS_TOKEN: TOKEN}, {inspectClone: async d => void (clone = d)})
    ).then(unexpected, e => e as Error)
    expect(server.dead).toBe(true)
    expect(error).toBeInstanceOf(OperationError)
    expect(error.message).toMatch(
      /^push to http:\/\/127\.0\.0\.1:\d+\/config\.git failed: the connection was lost \(.+\); the server could not be asked whether the branch moved\. Re-run the job: set-image is idempotent$/
    )
    for (const leak of leaks(TOKEN)) expect(error.message).not.toContain(leak)
    expect(await repo.head()).toBe(head)
    await repo.fsck()
    expect(existsSync(clone)).toBe(false)
  })

  it('a push answered 502 is retried on a fresh tip and lands once', async () => {
    await startServer()
    const head = await repo.head()
    server.failNext(1, {service: 'git-receive-pack'})
    const logs: string[] = []
    const result = await remoteWrite(options({GITOPS_TOKEN: TOKEN}, {log: m => void logs.push(m)}))
    expect(result).toMatchObject({kind: 'pushed', attempts: 2})
    if (result.kind !== 'pushed') throw new Error('unreachable')
    expect(await repo.head()).toBe(result.commit)
    expect((await repo.git(['rev-parse', `${result.commit}^`])).trim()).toBe(head)
    expect(logs.join('\n')).toMatch(/push to main failed \(.*502.*\); .*attempt 2 of 3/)
    await repo.fsck()
  })

  it('a 502 while the sparse checkout downloads file contents is retried', async () => {
    await startServer()
    let armed = false
    const logs: string[] = []
    const result = await remoteWrite(
      options(
        {GITOPS_TOKEN: TOKEN},
        {
          log: m => void logs.push(m),
          // Fires after the clone, right before the checkout fetches the blobs it needs.
          debug: m => {
            if (!armed && /^sparse checkout of/.test(m)) {
              armed = true
              server.failNext(1)
            }
          }
        }
      )
    )
    expect(armed).toBe(true)
    expect(result).toMatchObject({kind: 'pushed', attempts: 1})
    expect(logs.join('\n')).toMatch(
      /download files at [0-9a-f]{12} from .* failed \(.*502.*\); attempt 2 of 3/
    )
    expect(server.requests.filter(q => q.status === 502)).toHaveLength(1)
    await repo.fsck()
  })

  it('pushes that keep failing with 503 stop at --max-attempts and leave the branch alone', async () => {
    await startServer()
    const head = await repo.head()
    server.failNext(Infinity, {service: 'git-receive-pack', status: 503})
    const error = await remoteWrite(options({GITOPS_TOKEN: TOKEN})).then(
      unexpected,
      e => e as Error
    )
    expect(error).toBeInstanceOf(OperationError)
    expect(error.message).toMatch(
      /^push to http:\/\/127\.0\.0\.1:\d+\/config\.git failed after 3 attempts: the server kept failing \(.*503.*\); the branch is still at [0-9a-f]{12}, so nothing was changed\. .*raise --max-attempts/
    )
    expect(server.requests.filter(q => q.status === 503)).toHaveLength(3)
    expect(await repo.head()).toBe(head)
  })

  it('an unreachable server fails fast with the cause', async () => {
    await startServer()
    const url = server.repoUrl('config.git')
    await server.close()
    const error = await remoteWrite(options({GITOPS_TOKEN: TOKEN}, {repo: url})).then(
      unexpected,
      e => e as Error
    )
    expect(error).toBeInstanceOf(OperationError)
    expect(error.message).toMatch(
      /^could not reach http:\/\/127\.0\.0\.1:\d+\/config\.git \(.*(Failed to connect|Couldn't connect).*\); check the URL, network and proxy/
    )
  })

  it('an unknown repository is a usage error', async () => {
    await startServer()
    const error = await remoteWrite(
      options({GITOPS_TOKEN: TOKEN}, {repo: server.repoUrl('nope.git')})
    ).then(unexpected, e => e as Error)
    expect(error.message).toMatch(
      /config repo http:\/\/127\.0\.0\.1:\d+\/nope\.git was not found .*check --repo/
    )
  })
})
