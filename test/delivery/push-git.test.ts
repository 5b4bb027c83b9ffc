import {existsSync} from 'node:fs'
import {readdir, readFile} from 'node:fs/promises'
import {join, relative} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {UsageError} from '../../src/core/errors.js'
import {Redactor} from '../../src/core/redact.js'
import {backoffDelay} from '../../src/core/backoff.js'
import {remoteWrite, type RemoteWriteOptions} from '../../src/delivery/push-git.js'
import {
  appsTree,
  kustomization,
  makeBareRepo,
  tempDir,
  type BareRepo
} from '../helpers/git-fixtures.js'
import {tagMessage, tagPlanner, type TagOutcome} from '../git/tag-planner.js'

const IMAGE = (i: number) => `ghcr.io/acme/app-${String(i).padStart(4, '0')}`
const PROD = (i: number) => `apps/app-${String(i).padStart(4, '0')}/overlays/prod`
const BOT = {name: 'gitops-deploy', email: 'gitops-deploy@users.noreply.github.com'}

const repos: BareRepo[] = []
afterEach(async () => {
  for (const r of repos.splice(0)) await r.cleanup()
})

async function repoWithApps(count = 4): Promise<BareRepo> {
  const repo = await makeBareRepo(appsTree(count))
  repos.push(repo)
  return repo
}

function options(
  repo: BareRepo,
  over: Partial<RemoteWriteOptions<TagOutcome>> = {}
): RemoteWriteOptions<TagOutcome> {
  return {
    repo: repo.url,
    planner: tagPlanner(PROD(1), IMAGE(1), '2.0.0'),
    message: tagMessage,
    author: BOT,
    maxAttempts: 10,
    dryRun: false,
    env: {},
    redactor: new Redactor(),
    backoff: {baseMs: 1, capMs: 5},
    ...over
  }
}

async function filesIn(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (d: string) => {
    for (const e of await readdir(d, {withFileTypes: true})) {
      if (e.name === '.git') continue
      if (e.isDirectory()) await walk(join(d, e.name))
      else out.push(relative(dir, join(d, e.name)))
    }
  }
  await walk(dir)
  return out.sort()
}

describe('remoteWrite over file://', () => {
  it('commits and pushes one change from a shallow sparse clone, then removes the clone', async () => {
    const repo = await repoWithApps()
    const before = await repo.head()
    let seen: {files: string[]; shallow: boolean; dir: string} | undefined
    const result = await remoteWrite(
      options(repo, {
        inspectClone: async dir => {
          seen = {files: await filesIn(dir), shallow: existsSync(join(dir, '.git', 'shallow')), dir}
        }
      })
    )
    expect(result).toMatchObject({kind: 'pushed', branch: 'main', attempts: 1, base: before})
    if (result.kind !== 'pushed') return
    expect(await repo.head()).toBe(result.commit)
    expect(await repo.readFile(`${PROD(1)}/kustomization.yaml`)).toBe(
      kustomization(IMAGE(1), '2.0.0')
    )
    // Untouched neighbours keep their bytes.
    expect(await repo.readFile(`${PROD(2)}/kustomization.yaml`)).toBe(
      kustomization(IMAGE(2), '1.0.0')
    )
    const [log] = await repo.log()
    expect(log).toMatchObject({
      subject: `Deploy ${IMAGE(1)}:2.0.0`,
      author: `${BOT.name} <${BOT.email}>`,
      parents: [before]
    })
    await repo.fsck()
    // Only the target directory (and top-level files) were checked out, from a depth-1 clone.
    expect(seen?.files).toEqual(['README.md', `${PROD(1)}/kustomization.yaml`])
    expect(seen?.shallow).toBe(true)
    expect(existsSync(seen!.dir)).toBe(false)
  })

  it('accepts a plain path as --repo', async () => {
    const repo = await repoWithApps(2)
    const result = await remoteWrite(options(repo, {repo: relative(process.cwd(), repo.dir)}))
    expect(result.kind).toBe('pushed')
  })

  it('is idempotent: a re-run finds nothing to change and makes no commit', async () => {
    const repo = await repoWithApps(2)
    expect((await remoteWrite(options(repo))).kind).toBe('pushed')
    const head = await repo.head()
    const again = await remoteWrite(options(repo))
    expect(again).toMatchObject({kind: 'unchanged', attempts: 1, base: head})
    expect(await repo.head()).toBe(head)
  })

  it('dry run reports the change and pushes nothing', async () => {
    const repo = await repoWithApps(2)
    const head = await repo.head()
    const result = await remoteWrite(options(repo, {dryRun: true}))
    expect(result).toMatchObject({kind: 'dry-run', attempts: 1})
    expect(result.kind === 'dry-run' && result.outcome.files[0].after).toContain('newTag: 2.0.0')
    expect(result.kind === 'dry-run' && result.message).toBe(`Deploy ${IMAGE(1)}:2.0.0\n`)
    expect(await repo.head()).toBe(head)
    expect((await repo.log()).length).toBe(1)
  })

  it("uses the remote's default branch, or --branch", async () => {
    const repo = await makeBareRepo(appsTree(2), {branch: 'production'})
    repos.push(repo)
    await repo.git(['branch', 'staging', 'production'])
    const def = await remoteWrite(options(repo))
    expect(def).toMatchObject({kind: 'pushed', branch: 'production'})
    const other = await remoteWrite(
      options(repo, {branch: 'staging', planner: tagPlanner(PROD(1), IMAGE(1), '3.0.0')})
    )
    expect(other).toMatchObject({kind: 'pushed', branch: 'staging'})
    expect(await repo.readFile(`${PROD(1)}/kustomization.yaml`, 'staging')).toContain(
      'newTag: 3.0.0'
    )
    expect(await repo.readFile(`${PROD(1)}/kustomization.yaml`, 'production')).toContain(
      'newTag: 2.0.0'
    )
  })

  it('fails with the fix for a missing branch, repository or empty repository', async () => {
    const repo = await repoWithApps(1)
    await expect(remoteWrite(options(repo, {branch: 'nope'}))).rejects.toThrow(
      new UsageError(
        `branch 'nope' does not exist in ${repo.url}; create it or pass an existing --branch`
      )
    )
    const missing = join(await tempDir(), 'missing.git')
    await expect(remoteWrite(options(repo, {repo: missing}))).rejects.toThrow(
      /config repo file:.*missing\.git was not found .*check --repo/
    )
    const empty = await makeBareRepo({})
    repos.push(empty)
    await expect(remoteWrite(options(empty))).rejects.toThrow(
      /has no commits; push an initial commit/
    )
  })

  it("propagates the planner's usage error and still removes the clone", async () => {
    const repo = await repoWithApps(2)
    let dir = ''
    await expect(
      remoteWrite(
        options(repo, {
          planner: tagPlanner('apps/zzz', IMAGE(1), '2'),
          inspectClone: async d => void (dir = d)
        })
      )
    ).rejects.toThrow(/--path apps\/zzz matches no directory/)
    expect(dir).not.toBe('')
    expect(existsSync(dir)).toBe(false)
  })

  it('rejects a nonsensical --max-attempts before touching the network', async () => {
    const repo = await repoWithApps(2)
    await expect(remoteWrite(options(repo, {maxAttempts: 0}))).rejects.toThrow(
      /--max-attempts must be a whole number >= 1/
    )
  })
})

describe('remoteWrite when the branch moves', () => {
  it('re-applies the edit on the new tip and never pushes the stale commit', async () => {
    const repo = await repoWithApps(3)
    let raced = false
    const planner = tagPlanner(PROD(1), IMAGE(1), '2.0.0', {
      beforeWrite: async () => {
        if (raced) return
        raced = true
        await repo.commit(
          {[`${PROD(2)}/kustomization.yaml`]: kustomization(IMAGE(2), '9.9.9')},
          'someone else'
        )
      }
    })
    const logs: string[] = []
    const result = await remoteWrite(options(repo, {planner, log: m => logs.push(m)}))
    expect(result).toMatchObject({kind: 'pushed', attempts: 2})
    const log = await repo.log()
    expect(log.map(l => l.subject)).toEqual([
      `Deploy ${IMAGE(1)}:2.0.0`,
      'someone else',
      'Initial config'
    ])
    expect(result.kind === 'pushed' && result.base).toBe(log[1].sha)
    expect(await repo.readFile(`${PROD(1)}/kustomization.yaml`)).toContain('newTag: 2.0.0')
    expect(await repo.readFile(`${PROD(2)}/kustomization.yaml`)).toContain('newTag: 9.9.9')
    expect(logs[0]).toMatch(
      /push rejected \(main moved\); attempt 2 of 10 in \d+ ms on the new tip/
    )
    await repo.fsck()
  })

  it('succeeds without a commit when the new tip already has the tag', async () => {
    const repo = await repoWithApps(2)
    const planner = tagPlanner(PROD(1), IMAGE(1), '2.0.0', {
      beforeWrite: async () => {
        await repo.commit(
          {[`${PROD(1)}/kustomization.yaml`]: kustomization(IMAGE(1), '2.0.0')},
          'same tag, other job'
        )
      }
    })
    const result = await remoteWrite(options(repo, {planner}))
    expect(result).toMatchObject({kind: 'unchanged', attempts: 2})
    expect((await repo.log()).map(l => l.subject)).toEqual([
      'same tag, other job',
      'Initial config'
    ])
  })

  it('gives up after --max-attempts with the reason and leaves the remote consistent', async () => {
    const repo = await repoWithApps(2)
    let n = 0
    const planner = tagPlanner(PROD(1), IMAGE(1), '2.0.0', {
      beforeWrite: async () => {
        n++
        await repo.commit({[`other-${n}.txt`]: `${n}\n`}, `interloper ${n}`)
      }
    })
    const delays: number[] = []
    const result = await remoteWrite(
      options(repo, {
        planner,
        maxAttempts: 3,
        // A base above any attempt's duration keeps the windows deterministic.
        backoff: {
          baseMs: 100_000,
          capMs: 150_000,
          random: () => 1,
          sleep: async ms => void delays.push(ms)
        }
      })
    )
    expect(result).toMatchObject({kind: 'rejected', reason: 'moved', attempts: 3})
    expect(result.kind === 'rejected' && result.detail).toMatch(
      /3 attempts lost the race .*raise --max-attempts/
    )
    expect(delays).toEqual([100_000, 150_000])
    expect((await repo.log()).map(l => l.subject)[0]).toBe('interloper 3')
    await repo.fsck()
  })

  it('does not retry a protected-branch rejection', async () => {
    const repo = await repoWithApps(2)
    // A pre-receive hook stands in for branch protection, with GitHub's wording.
    const {writeFile, chmod} = await import('node:fs/promises')
    const hook = join(repo.dir, 'hooks', 'pre-receive')
    await writeFile(
      hook,
      '#!/bin/sh\necho "error: GH006: Protected branch update failed for refs/heads/main." >&2\nexit 1\n'
    )
    await chmod(hook, 0o755)
    const head = await repo.head()
    const result = await remoteWrite(options(repo))
    expect(result).toMatchObject({kind: 'rejected', reason: 'protected', attempts: 1})
    expect(result.kind === 'rejected' && result.detail).toContain('GH006')
    expect(await repo.head()).toBe(head)
  })
})

describe('backoffDelay', () => {
  it('doubles the jitter window up to the cap', () => {
    const b = {baseMs: 100, capMs: 1000, random: () => 1}
    expect([1, 2, 3, 4, 5, 6].map(a => backoffDelay(a, b))).toEqual([
      100, 200, 400, 800, 1000, 1000
    ])
    expect(backoffDelay(3, {...b, random: () => 0.5})).toBe(200)
  })

  it('starts the window at the last attempt duration when that is longer', () => {
    const b = {baseMs: 100, capMs: 10_000, random: () => 1}
    expect(backoffDelay(1, b, 700)).toBe(700)
    expect(backoffDelay(3, b, 700)).toBe(2800)
    expect(backoffDelay(3, b, 50)).toBe(400)
  })
})
