/**
 * execGit runs on simple-git (issue 15): the properties simple-git's defaults
 * would lose, each checked against the real thing.
 */
import {spawn} from 'node:child_process'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {execGit, GitError, stopGitChildren} from '../../src/git/exec.js'
import {exampleFiles, makeBareRepo, tempDir, type BareRepo} from '../helpers/git-fixtures.js'
import {startGitHttpServer, type GitHttpServer} from '../helpers/git-http-server.js'

const dirs: string[] = []
let repo: BareRepo | undefined
let server: GitHttpServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
  await repo?.cleanup()
  repo = undefined
  for (const d of dirs.splice(0)) await rm(d, {recursive: true, force: true})
})

async function dir(): Promise<string> {
  const d = await tempDir('simple-git-client-')
  dirs.push(d)
  await execGit(['init', '-q'], {cwd: d})
  return d
}

/** Command lines of the processes still running that mention `text` (Linux: /proc). */
function processesMentioning(text: string): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter(e => /^\d+$/.test(e))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
      if (cmdline.includes(text)) found.push(cmdline)
    } catch {
      // ended while we read
    }
  }
  return found
}

describe('execGit on simple-git', () => {
  it('closes stdin when there is no input: git reading it sees an empty file, not a hang', async () => {
    const d = await dir()
    const out = await execGit(['hash-object', '--stdin'], {cwd: d, timeoutMs: 10_000})
    expect(out.stdout.trim()).toBe('e69de29bb2d1d6434b8b29ae775ad8c2e48c5391')
    const fed = await execGit(['hash-object', '--stdin'], {cwd: d, input: 'hello\n'})
    expect(fed.stdout.trim()).toBe('ce013625030ba8dba906f756967f9e9ca394464a')
  })

  it('a non-zero exit with nothing on stderr is still a failure, with its code', async () => {
    const d = await dir()
    await writeFile(join(d, 'a'), 'a\n')
    await execGit(['add', 'a'], {cwd: d})
    const out = await execGit(['diff', '--cached', '--quiet'], {cwd: d, allowFailure: true})
    expect(out).toEqual({code: 1, stdout: '', stderr: ''})
    await expect(execGit(['diff', '--cached', '--quiet'], {cwd: d})).rejects.toThrow(
      /git diff failed \(exit 1\)/
    )
  })

  it('config keys outside simple-git’s safe list pass without a warning on stderr', async () => {
    const d = await dir()
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    try {
      const out = await execGit(['config', '--get', 'core.hooksPath'], {
        cwd: d,
        config: {'core.hooksPath': '/dev/null', 'receive.denyNonFastForwards': 'true'}
      })
      expect(out.stdout).toBe('/dev/null\n')
      await execGit(['config', 'uploadpack.allowFilter', 'true'], {cwd: d})
    } finally {
      process.off('warning', onWarning)
    }
    expect(warnings).toEqual([])
  })

  it('its flag guard still refuses --upload-pack before git starts', async () => {
    const d = await dir()
    const e = await execGit(['fetch', '--upload-pack=touch /tmp/pwned', 'origin'], {
      cwd: d,
      allowFailure: true
    }).catch((e: unknown) => e)
    expect(e).toBeInstanceOf(GitError)
    expect((e as GitError).message).toMatch(/^could not start git: .*--upload-pack/)
  })

  it('DEBUG=simple-git* does not print the auth header or git output past the Redactor', async () => {
    const secret = 'Authorization: Basic c2VjcmV0LXRva2VuLWZvci1kZWJ1Zw=='
    const script = [
      "import {execGit} from './src/git/exec.ts'",
      `const out = await execGit(['config', '--get', 'http.extraHeader'], {cwd: process.cwd(), config: {'http.extraHeader': ${JSON.stringify(secret)}}})`,
      "process.stdout.write(out.stdout.length > 0 ? 'ran' : 'empty')"
    ].join('\n')
    const root = join(import.meta.dirname, '..', '..')
    const tsx = join(root, 'node_modules', '.bin', 'tsx')
    const child = spawn(tsx, ['--input-type=module', '-e', script], {
      cwd: root,
      env: {...process.env, DEBUG: 'simple-git,simple-git:*'},
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => (stdout += d))
    child.stderr.on('data', d => (stderr += d))
    const code = await new Promise<number | null>(r => child.on('close', r))
    expect(code, stderr).toBe(0)
    expect(stdout).toBe('ran')
    expect(stderr).not.toContain('c2VjcmV0LXRva2VuLWZvci1kZWJ1Zw')
    expect(stderr).not.toContain('simple-git')
  })
})

describe('stopGitChildren', () => {
  it.skipIf(!existsSync('/proc/self/stat'))(
    'ends the push and its transport helpers (git-remote-http, send-pack), not git alone',
    async () => {
      repo = await makeBareRepo(await exampleFiles())
      server = await startGitHttpServer({root: join(repo.dir, '..')})
      const url = server.repoUrl('config.git')
      const d = await tempDir('simple-git-stop-')
      dirs.push(d)
      await execGit(['clone', '-q', '--', url, 'w'], {cwd: d})
      const work = join(d, 'w')
      await execGit(['commit', '-q', '--allow-empty', '-m', 'held'], {
        cwd: work,
        config: {'user.name': 'T', 'user.email': 't@example.com'}
      })
      const head = await repo.head()
      server.holdNextPush()
      const push = execGit(['push', '-q', 'origin', 'HEAD:main'], {cwd: work, allowFailure: true})
      for (let i = 0; i < 200; i++) {
        if (server.requests.some(q => q.method === 'POST' && q.service === 'git-receive-pack'))
          break
        await new Promise(r => setTimeout(r, 50))
      }
      expect(processesMentioning(url).some(c => c.includes('send-pack'))).toBe(true)
      const started = Date.now()
      expect(await stopGitChildren('SIGTERM', 5000)).toBe(1)
      // Everything ended on the signal, well before the grace ran out.
      expect(Date.now() - started).toBeLessThan(4000)
      expect((await push).code).not.toBe(0)
      await new Promise(r => setTimeout(r, 200))
      expect(processesMentioning(url)).toEqual([])
      expect(await repo.head()).toBe(head)
    }
  )
})
