import {mkdtemp, rm} from 'node:fs/promises'
import {createServer, type Server, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {execGit, GitError} from '../../src/git/exec.js'
import {classifyPush, classifyRemoteFailure, isTransient} from '../../src/git/push-result.js'

// A server that accepts connections and never answers: the stalled load balancer
// that only execGit's own timeout can get us out of.
describe('execGit timeoutMs against a server that never answers', () => {
  let server: Server
  let url: string
  let dir: string
  const sockets = new Set<Socket>()

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'exec-timeout-'))
    await execGit(['init', '-q'], {cwd: dir})
    server = createServer(s => {
      sockets.add(s)
      s.on('error', () => undefined)
      s.on('close', () => sockets.delete(s))
    })
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    const address = server.address()
    if (!address || typeof address === 'string') throw new Error('no port')
    url = `http://127.0.0.1:${address.port}/acme/config.git`
  })

  afterAll(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>(r => server.close(() => r()))
    await rm(dir, {recursive: true, force: true})
  })

  it('rejects with a GitError marked timedOut, naming the command and the limit', async () => {
    const error = await execGit(['fetch', '-q', '--', url, 'refs/heads/main'], {
      cwd: dir,
      timeoutMs: 400
    }).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(GitError)
    const e = error as GitError
    expect(e.timedOut).toBe(true)
    expect(e.output.timedOut).toBe(true)
    expect(e.message).toMatch(/^git fetch timed out after 0\.4s/)
    expect(e.output.stderr).toContain('error: git fetch timed out after 0.4s')
    expect(isTransient(classifyRemoteFailure(e.output.stderr, e.timedOut))).toBe(true)
  })

  it('with allowFailure resolves non-zero, marked, with the reason in stderr', async () => {
    const out = await execGit(['ls-remote', '--', url], {
      cwd: dir,
      timeoutMs: 300,
      allowFailure: true
    })
    expect(out.code).not.toBe(0)
    expect(out.timedOut).toBe(true)
    expect(out.stderr).toContain('git ls-remote timed out after 0.3s')
    expect(classifyRemoteFailure(out.stderr, out.timedOut)).toMatchObject({
      kind: 'error',
      reason: 'transient'
    })
  })

  it('a git that finishes in time is not marked', async () => {
    const out = await execGit(['rev-parse', '--git-dir'], {cwd: dir, timeoutMs: 10_000})
    expect(out.code).toBe(0)
    expect(out.timedOut).toBeUndefined()
    const failed = await execGit(['rev-parse', 'no-such-rev'], {
      cwd: dir,
      timeoutMs: 10_000,
      allowFailure: true
    })
    expect(failed.code).not.toBe(0)
    expect(failed.timedOut).toBeUndefined()
  })
})

describe('classifier and timeouts', () => {
  it('a timed-out push has an unknown outcome: transient, so the caller re-checks the branch', () => {
    expect(
      classifyPush({
        code: 128,
        stdout: '',
        stderr: 'error: git push timed out after 120s\n',
        timedOut: true
      })
    ).toEqual({kind: 'error', reason: 'transient', detail: 'error: git push timed out after 120s'})
  })

  it('the same stderr without the flag is not taken for a timeout', () => {
    expect(classifyRemoteFailure('fatal: something odd\n')).toMatchObject({reason: 'unknown'})
    expect(classifyRemoteFailure('fatal: something odd\n', true)).toMatchObject({
      reason: 'transient'
    })
  })
})
