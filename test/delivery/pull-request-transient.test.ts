import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {GitHubDouble} from '../doubles/github-double.js'
import {cli} from '../helpers/cli.js'
import {kustomization, projectRepo, type ProjectRepo} from '../helpers/git-fixtures.js'
import {startGitHttpServer, type GitHttpServer} from '../helpers/git-http-server.js'
import {TOKEN} from '../forge/helpers.js'

/**
 * PR mode's own git calls (ls-remote, the shallow fetches, the
 * --force-with-lease push) ride out a forge whose load balancer answers 5xx,
 * within the lifecycle's attempt budget (3 for set-image), and give up with
 * the cause, the count and the fix when the outage lasts.
 */

const OVERLAY = 'apps/web/overlays/dev'
const BRANCH = `gitops-deploy/main/${OVERLAY}`

describe('set-image --mode pr --transport git against a failing smart-HTTP remote', () => {
  let repo: ProjectRepo
  let server: GitHttpServer
  let gh: GitHubDouble

  beforeEach(async () => {
    repo = await projectRepo(
      {[`${OVERLAY}/kustomization.yaml`]: kustomization('ghcr.io/acme/web', '1.0.0')},
      {allowForcePush: true}
    )
    server = await startGitHttpServer({
      root: repo.root,
      credentials: [{user: 'x-access-token', password: TOKEN, access: 'write'}]
    })
    gh = await GitHubDouble.start({
      token: TOKEN,
      repos: [{owner: 'acme', repo: 'config', gitDir: repo.dir}]
    })
  })

  afterEach(async () => {
    expect(gh.violations).toEqual([])
    await gh.close()
    await server.close()
    await repo.dispose()
  })

  const run = (tag: string) =>
    cli(
      [
        'set-image',
        '--mode',
        'pr',
        '--transport',
        'git',
        '--repo',
        server.repoUrl('acme/config.git'),
        '--provider',
        'github',
        '--api-url',
        gh.apiUrl,
        '--path',
        OVERLAY,
        '--image',
        `ghcr.io/acme/web:${tag}`,
        // The PR lifecycle shares --max-attempts (default 10) with push mode; these cases pin 3.
        '--max-attempts',
        '3'
      ],
      {GITOPS_TOKEN: TOKEN, GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/web'}
    )
  const failed = () => server.requests.filter(r => r.status >= 500).map(r => r.status)
  const branchTip = () => repo.git(['for-each-ref', `refs/heads/${BRANCH}`])

  it('lands after two leading 502s (the first reads are retried)', async () => {
    server.failNext(2)
    const r = await run('1.1.0')
    expect(r.code).toBe(0)
    expect(failed()).toEqual([502, 502])
    expect(r.stdout + r.stderr).toMatch(/attempt 2 of 3/)
    expect(r.stdout + r.stderr).toMatch(/attempt 3 of 3/)
    expect(gh.pulls).toHaveLength(1)
    expect(await repo.readFile(`${OVERLAY}/kustomization.yaml`, BRANCH)).toContain('newTag: 1.1.0')
    expect(r.stdout + r.stderr).not.toContain(TOKEN)
  })

  it('a 502 on the PR-branch push is retried with the same lease after checking the branch', async () => {
    server.failNext(2, {service: 'git-receive-pack'})
    const r = await run('1.1.0')
    expect(r.code).toBe(0)
    expect(failed()).toEqual([502, 502])
    const log = r.stdout + r.stderr
    expect(log).toMatch(/git push of gitops-deploy\/main\/apps\/web\/overlays\/dev failed/)
    expect(log).toMatch(/is still absent, so nothing was changed; attempt 2 of 3/)
    // Each failed push was followed by a look at the branch before the next push.
    // (GET info/refs opens every git command: one line per ls-remote, fetch or push.)
    const services = server.requests.filter(q => q.method === 'GET').map(q => q.service)
    const pushes = services.map((s, i) => (s === 'git-receive-pack' ? i : -1)).filter(i => i >= 0)
    expect(pushes.length).toBeGreaterThanOrEqual(3)
    for (const i of pushes.slice(1)) expect(services[i - 1]).toBe('git-upload-pack')
    expect(gh.pulls).toHaveLength(1)
    expect(await repo.readFile(`${OVERLAY}/kustomization.yaml`, BRANCH)).toContain('newTag: 1.1.0')
  })

  it('a persistent 503 fails with exit 1 naming the cause, the attempts and the fix; no PR', async () => {
    server.failNext(Infinity, {status: 503})
    const r = await run('1.1.0')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/503/)
    expect(r.stderr).toMatch(/kept failing after 3 attempts/)
    expect(r.stderr).toMatch(/re-run the job later/)
    expect(r.stderr).toMatch(/no pull request was created/)
    expect(failed()).toEqual([503, 503, 503])
    expect(gh.pulls).toEqual([])
    expect((await branchTip()).trim()).toBe('')
    expect(r.stdout + r.stderr).not.toContain(TOKEN)
  })

  it('a push that keeps failing with 503 leaves the branch absent and opens no PR', async () => {
    server.failNext(Infinity, {status: 503, service: 'git-receive-pack'})
    const r = await run('1.1.0')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/git push of gitops-deploy\/main\/apps\/web\/overlays\/dev/)
    expect(r.stderr).toMatch(/failed after 3 attempts: the server kept failing \(.*503/)
    expect(r.stderr).toMatch(/is still absent, so nothing was changed/)
    expect(r.stderr).toMatch(/re-run the job later/)
    expect(gh.pulls).toEqual([])
    expect((await branchTip()).trim()).toBe('')
  })

  it('a push whose server dies mid-transfer is not guessed at: exit 1, the check named, no PR', async () => {
    server.dieOnNextPush()
    const r = await run('1.1.0')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/git push of gitops-deploy\/main\/apps\/web\/overlays\/dev to /)
    expect(r.stderr).toMatch(/the server could not be asked whether the branch moved/)
    expect(r.stderr).toMatch(/re-run the job/)
    expect(gh.pulls).toEqual([])
    expect(r.stdout + r.stderr).not.toContain(TOKEN)
  })
})
