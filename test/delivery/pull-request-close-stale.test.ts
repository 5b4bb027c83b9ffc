import {dirname} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {GitHubDouble} from '../doubles/github-double.js'
import {GitLabDouble} from '../doubles/gitlab-double.js'
import {startGitHttpServer, type GitHttpServer} from '../helpers/git-http-server.js'
import {
  APP_TOKEN,
  GITLAB_TOKEN,
  cli,
  configFiles,
  kfile,
  overlay,
  tagOf,
  transportRepo,
  type TransportRepo
} from './helpers.js'

/**
 * --close-stale (default on): a later run that finds nothing left to change
 * closes OUR open PR with a comment and deletes its branch, like
 * create-pull-request; a PR carrying a human's commit is never touched.
 * Both forges, both transports, against the doubles (which validate every
 * request) over a real smart-HTTP config repo.
 */

const BRANCH = `gitops-deploy/main/${overlay('web')}`

interface ForgeUnderTest {
  name: 'github' | 'gitlab'
  token: string
  start(gitDir: string): Promise<void>
  apiUrl(): string
  /** The PR/MR for BRANCH as the double keeps it. */
  pr(): {open: boolean; comments: string[]} | undefined
  violations(): string[]
  close(): Promise<void>
}

function github(): ForgeUnderTest {
  let gh: GitHubDouble
  return {
    name: 'github',
    token: APP_TOKEN,
    async start(gitDir) {
      gh = await GitHubDouble.start({
        token: APP_TOKEN,
        repos: [{owner: 'acme', repo: 'config', gitDir}]
      })
    },
    apiUrl: () => gh.apiUrl,
    pr() {
      const p = gh.pulls.find(x => x.head === BRANCH)
      return p && {open: p.state === 'open', comments: p.comments}
    },
    violations: () => gh.violations,
    close: () => gh.close()
  }
}

function gitlab(): ForgeUnderTest {
  let gl: GitLabDouble
  return {
    name: 'gitlab',
    token: GITLAB_TOKEN,
    async start(gitDir) {
      gl = await GitLabDouble.start({
        token: GITLAB_TOKEN,
        projects: [{id: 42, path: 'acme/config', gitDir}]
      })
    },
    apiUrl: () => gl.apiUrl,
    pr() {
      const m = gl.mergeRequests.find(x => x.source_branch === BRANCH)
      return m && {open: m.state === 'opened', comments: m.notes}
    },
    violations: () => gl.violations,
    close: () => gl.close()
  }
}

describe.each([
  ['github', 'git'],
  ['github', 'api'],
  ['gitlab', 'git'],
  ['gitlab', 'api']
] as const)('--close-stale on %s, %s transport', (forgeName, transport) => {
  let repo: TransportRepo
  let server: GitHttpServer
  const forge = forgeName === 'github' ? github() : gitlab()

  beforeEach(async () => {
    repo = await transportRepo(configFiles())
    await repo.git(['config', 'receive.denyNonFastForwards', 'false'])
    server = await startGitHttpServer({
      root: dirname(dirname(repo.dir)),
      credentials: [{user: 'x-access-token', password: forge.token, access: 'write'}]
    })
    await forge.start(repo.dir)
  })
  afterEach(async () => {
    expect(forge.violations()).toEqual([])
    await forge.close()
    await server.close()
    await repo.fsck()
    await repo.dispose()
  })

  const run = (tag: string, extra: string[] = []) =>
    cli(
      [
        'set-image',
        '--mode',
        'pr',
        '--repo',
        server.repoUrl('acme/config.git'),
        '--provider',
        forgeName,
        '--api-url',
        forge.apiUrl(),
        '--transport',
        transport,
        '--author',
        'Deploy Bot <deploy@example.com>',
        '--path',
        overlay('web'),
        '--image',
        `ghcr.io/acme/web:${tag}`,
        '--json',
        ...extra
      ],
      {GITOPS_TOKEN: forge.token}
    )

  /** Someone lands the PR's change on main another way (a direct push, another PR). */
  async function landOnMain(): Promise<void> {
    const text = await repo.readFile(kfile('web'), BRANCH)
    expect(tagOf(text)).toBe('1.1.0')
    await repo.commit({[kfile('web')]: text}, 'web 1.1.0 by hand', 'main')
  }

  const branches = async () => repo.git(['for-each-ref', '--format=%(refname:short)', 'refs/heads'])

  it('closes our PR with a comment and deletes its branch when the base already has the change', async () => {
    expect((await run('1.1.0')).code).toBe(0)
    expect(forge.pr()?.open).toBe(true)
    await landOnMain()
    const main = await repo.head()

    const r = await run('1.1.0')
    expect(r.stderr).not.toMatch(/error/)
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.pullRequest).toMatchObject({number: 1, operation: 'closed'})
    expect(out.pullRequest.url).toMatch(/\/(pull|merge_requests)\/1$/)
    const pr = forge.pr()!
    expect(pr.open).toBe(false)
    expect(pr.comments).toHaveLength(1)
    expect(pr.comments[0]).toMatch(/already has this change.*no longer needed/)
    expect(await branches()).not.toContain(BRANCH)
    expect(await repo.head()).toBe(main)

    // A third run has nothing to close and opens nothing.
    const again = await run('1.1.0')
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout).pullRequest).toMatchObject({operation: 'no-op', number: null})
    expect(forge.pr()?.comments).toHaveLength(1)
  })

  it('never closes a PR whose branch carries a commit gitops-deploy did not make', async () => {
    expect((await run('1.1.0')).code).toBe(0)
    await repo.commit({[`${overlay('web')}/notes.md`]: 'reviewed\n'}, 'a human note', BRANCH)
    const head = await repo.head(BRANCH)
    await landOnMain()

    const r = await run('1.1.0')
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(
      /has nothing left to change, but branch .* gitops-deploy did not make: left open/
    )
    const out = JSON.parse(r.stdout)
    expect(out.pullRequest).toMatchObject({operation: 'no-op'})
    expect(out.pullRequest.kept).toMatch(/did not make/)
    expect(forge.pr()).toMatchObject({open: true, comments: []})
    expect(await repo.head(BRANCH)).toBe(head)
  })

  it('--close-stale false keeps the PR and its branch', async () => {
    expect((await run('1.1.0')).code).toBe(0)
    const head = await repo.head(BRANCH)
    await landOnMain()
    const r = await run('1.1.0', ['--close-stale', 'false'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).pullRequest).toMatchObject({operation: 'no-op'})
    expect(forge.pr()).toMatchObject({open: true, comments: []})
    expect(await repo.head(BRANCH)).toBe(head)
  })
})

describe('--close-stale input checks', () => {
  it('is refused outside PR mode and takes only true or false', async () => {
    const push = await cli(
      [
        'set-image',
        '--repo',
        'https://example.invalid/acme/config.git',
        '--path',
        'a',
        '--image',
        'x:1',
        '--close-stale',
        'false'
      ],
      {}
    )
    expect(push.code).toBe(2)
    expect(push.stderr).toMatch(/--close-stale only applies to --mode pr/)
    const bad = await cli(
      [
        'set-image',
        '--mode',
        'pr',
        '--repo',
        'https://example.invalid/acme/config.git',
        '--path',
        'a',
        '--image',
        'x:1',
        '--close-stale',
        'maybe'
      ],
      {GITOPS_TOKEN: 'x'}
    )
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--close-stale 'maybe' is not true or false/)
  })
})
