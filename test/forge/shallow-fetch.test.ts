import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {GitHubForge} from '../../src/forge/github/pulls.js'
import {runPrLifecycle, type PrLifecycleInput} from '../../src/delivery/pull-request.js'
import {GitHubDouble} from '../doubles/github-double.js'
import {fastImport, fastImportCommit, git, type BareRepo} from '../helpers/git-fixtures.js'
import {IDENTITY, TOKEN, configRepo, memoryLog, setTag} from './helpers.js'

/**
 * The git path of the PR lifecycle fetches the base tip at depth 1 and the
 * head's own commits only (deepen-not against the base), so a config repo
 * with a long history costs a handful of commits, while the foreign-commit
 * check still sees every commit the head has beyond the base.
 */

const HISTORY = 300
const PATH = 'apps/web/overlays/dev'

let repo: BareRepo
let gh: GitHubDouble

beforeEach(async () => {
  repo = await configRepo()
  // A long history on main: 300 commits touching a changelog.
  const stream = Array.from({length: HISTORY}, (_, i) =>
    fastImportCommit({
      ref: 'refs/heads/main',
      files: {'CHANGELOG.md': `entry ${i}\n`},
      message: `history ${i}`,
      time: 1_700_000_000 + i,
      ...(i === 0 ? {from: 'refs/heads/main^0'} : {})
    })
  ).join('')
  await fastImport(repo.dir, stream)
  gh = await GitHubDouble.start({
    token: TOKEN,
    repos: [{owner: 'acme', repo: 'config', gitDir: repo.dir}]
  })
})

afterEach(async () => {
  expect(gh.violations).toEqual([])
  await gh.close()
  await repo.cleanup()
})

interface Seen {
  commits: number
  shallow: boolean
}

/** The lifecycle's edit, recording how much history the checkout holds when the edit runs. */
function input(tag: string, seen: Seen[]): PrLifecycleInput {
  const logged = memoryLog()
  const edit = setTag(PATH, 'ghcr.io/acme/web', tag)
  return {
    repoUrl: repo.url,
    forge: new GitHubForge({
      apiUrl: gh.apiUrl,
      repoPath: 'acme/config',
      token: TOKEN,
      log: logged.log,
      msPerSecond: 5
    }),
    paths: [PATH],
    identity: IDENTITY,
    log: logged.log,
    edit: async dir => {
      const count = await git(dir, ['rev-list', '--count', '--all'])
      seen.push({commits: Number(count.trim()), shallow: existsSync(join(dir, '.git', 'shallow'))})
      return edit(dir)
    }
  }
}

describe('PR lifecycle over git on a long history', () => {
  it('creates and updates the PR without fetching the history', async () => {
    expect(Number((await repo.git(['rev-list', '--count', 'main'])).trim())).toBe(HISTORY + 1)
    const seen: Seen[] = []
    const created = await runPrLifecycle(input('1.1.0', seen))
    expect(created.operation).toBe('created')
    await repo.commit({'README.md': 'moved\n'}, 'base moves')
    const updated = await runPrLifecycle(input('1.2.0', seen))
    expect(updated.operation).toBe('updated')
    if (updated.operation === 'no-op') throw new Error('unreachable')
    const [head] = await repo.log(updated.branch, 1)
    expect(head.parents).toEqual([await repo.head()])
    // Base tip alone the first time; base tip + the PR's one commit on the update.
    expect(seen).toEqual([
      {commits: 1, shallow: true},
      {commits: 2, shallow: true}
    ])
  })

  it('still sees a foreign commit on the head, however far back the base goes', async () => {
    const seen: Seen[] = []
    const created = await runPrLifecycle(input('1.1.0', seen))
    if (created.operation === 'no-op') throw new Error('unreachable')
    // A human adds two commits without our trailer.
    const theirs = await repo.commit({'notes.txt': 'a\n'}, 'human one', created.branch)
    await repo.commit({'notes.txt': 'b\n'}, 'human two', created.branch)
    await expect(runPrLifecycle(input('1.2.0', seen))).rejects.toThrow(
      new RegExp(`has 2 commit\\(s\\) gitops-deploy did not make: .*${theirs.slice(0, 12)}`)
    )
    expect(seen[1]).toEqual({commits: 4, shallow: true})
  })

  it('a head already merged into the base falls back to the full fetch and is rebuilt', async () => {
    const seen: Seen[] = []
    const created = await runPrLifecycle(input('1.1.0', seen))
    if (created.operation === 'no-op') throw new Error('unreachable')
    // The PR was merged by fast-forward: the head has no commits of its own any more.
    await repo.git(['update-ref', 'refs/heads/main', created.commit])
    gh.pulls[0].state = 'closed'
    const again = await runPrLifecycle(input('1.3.0', seen))
    expect(again.operation).toBe('created')
    if (again.operation === 'no-op') throw new Error('unreachable')
    const [head] = await repo.log(again.branch, 1)
    expect(head.parents).toEqual([created.commit])
    // Base tip = head: nothing of its own to select, so the whole history came (the safe way).
    expect(seen[1].commits).toBe(HISTORY + 2)
  })
})
