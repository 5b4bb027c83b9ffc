import {chmod, mkdir, readdir, rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {Redactor} from '../../src/core/redact.js'
import {deliver} from '../../src/delivery/deliver.js'
import {DEFAULT_AUTHOR} from '../../src/delivery/options.js'
import {setImageEdit} from '../../src/edits/set-image.js'
import {prBranchGit} from '../../src/git/pr-branch.js'
import {memoryPlatform} from '../../src/platform/port.js'
import {GitHubDouble} from '../doubles/github-double.js'
import {tempDir} from '../helpers/git-fixtures.js'
import {startGitHttpServer, type GitHttpServer} from '../helpers/git-http-server.js'
import {
  APP_TOKEN,
  configFiles,
  kfile,
  overlay,
  tagOf,
  transportRepo,
  type TransportRepo
} from '../delivery/helpers.js'

/**
 * The PR branch's git runs on the same hardened config as the push path: a
 * user's global hooks and line-ending settings (GIT_CONFIG_GLOBAL is kept for
 * ssh users) must not veto, run on, or reshape what the PR branch carries.
 */
describe('PR mode ignores a global hook and autocrlf (GIT_CONFIG_GLOBAL)', () => {
  let home: string
  let saved: string | undefined
  beforeEach(async () => {
    home = await tempDir()
    const hooks = join(home, 'hooks')
    await mkdir(hooks)
    // Every hook leaves a mark and refuses: if one ran, the run fails and the mark shows it.
    for (const hook of ['pre-commit', 'commit-msg', 'pre-push', 'post-checkout']) {
      await writeFile(join(hooks, hook), `#!/bin/sh\ntouch "${home}/ran-${hook}"\nexit 1\n`)
      await chmod(join(hooks, hook), 0o755)
    }
    await writeFile(
      join(home, 'gitconfig'),
      `[core]\n\thooksPath = ${hooks}\n\tautocrlf = true\n[commit]\n\tgpgSign = true\n`
    )
    saved = process.env.GIT_CONFIG_GLOBAL
    process.env.GIT_CONFIG_GLOBAL = join(home, 'gitconfig')
  })
  afterEach(async () => {
    if (saved === undefined) delete process.env.GIT_CONFIG_GLOBAL
    else process.env.GIT_CONFIG_GLOBAL = saved
    await rm(home, {recursive: true, force: true})
  })

  it('the PR checkout sees the hardened values, not the global ones', async () => {
    const dir = await tempDir()
    try {
      const git = prBranchGit(dir, {})
      await git(['init', '-q'])
      expect((await git(['config', 'core.hooksPath'])).trim()).toBe('/dev/null')
      expect((await git(['config', 'core.autocrlf'])).trim()).toBe('false')
      expect((await git(['config', 'commit.gpgSign'])).trim()).toBe('false')
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })

  describe('end to end', () => {
    let repo: TransportRepo
    let server: GitHttpServer
    let gh: GitHubDouble
    beforeEach(async () => {
      repo = await transportRepo(configFiles())
      await repo.git(['config', 'receive.denyNonFastForwards', 'false'])
      server = await startGitHttpServer({
        root: repo.root,
        credentials: [{user: 'x-access-token', password: APP_TOKEN, access: 'write'}]
      })
      gh = await GitHubDouble.start({
        token: APP_TOKEN,
        repos: [{owner: 'acme', repo: 'config', gitDir: repo.dir}]
      })
    })
    afterEach(async () => {
      expect(gh.violations).toEqual([])
      await gh.close()
      await server.close()
      await repo.dispose()
    })

    it('opens the PR with no hook run and the bytes as the edit wrote them', async () => {
      const d = await deliver(
        setImageEdit({
          paths: [overlay('web')],
          images: ['ghcr.io/acme/web:2.0.0'],
          sets: [],
          createKeys: false
        }),
        {
          mode: 'pr',
          closeStale: true,
          repo: server.repoUrl('acme/config.git'),
          author: DEFAULT_AUTHOR,
          authorGiven: false,
          maxAttempts: 3,
          transport: {choice: 'git', requireVerified: false},
          provider: 'github',
          apiUrl: gh.apiUrl,
          env: {GITOPS_TOKEN: APP_TOKEN},
          cwd: process.cwd(),
          labels: [],
          reviewers: [],
          teamReviewers: [],
          assignees: [],
          draft: false
        },
        memoryPlatform(new Redactor())
      )
      expect(d.pullRequest).toMatchObject({number: 1, operation: 'created'})
      expect((await readdir(home)).filter(f => f.startsWith('ran-'))).toEqual([])
      const text = await repo.readFile(kfile('web'), d.branch)
      expect(tagOf(text)).toBe('2.0.0')
      expect(text).not.toContain('\r')
    })
  })
})
