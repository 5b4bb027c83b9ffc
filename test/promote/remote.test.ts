import {dirname} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {Redactor} from '../../src/core/redact.js'
import {remoteWrite} from '../../src/delivery/push-git.js'
import {promotionPlanner} from '../../src/promote/run.js'
import {startGitHttpServer, type GitHttpServer} from '../helpers/git-http-server.js'
import {exampleFiles} from '../helpers/git-fixtures.js'
import {TOKEN, cli, exampleRepo, type ExampleRepo} from './helpers.js'
import {fakeToken} from '../helpers/fake-token.js'

let repo: ExampleRepo | undefined
let server: GitHttpServer | undefined

afterEach(async () => {
  await server?.close()
  await repo?.fsck()
  await repo?.dispose()
  repo = server = undefined
})

const STAGING = (app: string) => `apps/${app}/overlays/staging/kustomization.yaml`

describe('promote over smart HTTP with a token', () => {
  it('pushes with the token from GITOPS_TOKEN and never shows it', async () => {
    repo = await exampleRepo()
    server = await startGitHttpServer({
      root: dirname(repo.dir),
      credentials: [{user: 'x-access-token', password: TOKEN, access: 'write'}]
    })
    const url = server.repoUrl('config.git')
    const r = await cli(
      [
        'promote',
        '--repo',
        url,
        '--from',
        'dev',
        '--next',
        '--mode',
        'push',
        '--app',
        'api',
        '--json'
      ],
      {GITOPS_TOKEN: TOKEN, GITOPS_DEBUG: '1'}
    )
    expect(r.stderr).not.toMatch(/^error/m)
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({outcome: 'pushed', pushed: true})
    expect(await repo.readFile(STAGING('api'))).toContain('newTag: 2.8.0-rc.1')
    expect(r.stdout + r.stderr).not.toContain(TOKEN)
    expect(r.stdout + r.stderr).not.toContain(
      Buffer.from(`x-access-token:${TOKEN}`).toString('base64')
    )
    expect(
      server.requests.some(q => q.service === 'git-receive-pack' && q.user === 'x-access-token')
    ).toBe(true)
    expect(server.requests.every(q => !q.url.includes(TOKEN))).toBe(true)
  })

  it('fails with exit 1 and the fix on a wrong token, leaving the remote untouched', async () => {
    repo = await exampleRepo()
    server = await startGitHttpServer({
      root: dirname(repo.dir),
      credentials: [{user: 'x-access-token', password: TOKEN, access: 'write'}]
    })
    const head = await repo.head()
    const wrong = fakeToken('ghs_', 'definitelyWrongToken')
    const r = await cli(
      [
        'promote',
        '--repo',
        server.repoUrl('config.git'),
        '--from',
        'dev',
        '--next',
        '--mode',
        'push'
      ],
      {GITOPS_TOKEN: wrong}
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/authentication failed: the token in GITOPS_TOKEN .* was rejected/)
    expect(r.stderr + r.stdout).not.toContain(wrong)
    expect(await repo.head()).toBe(head)
  })
})

describe('promote when another job pushes first', () => {
  it('re-plans on the new tip: pins someone else already promoted are left alone', async () => {
    repo = await exampleRepo()
    const planner = promotionPlanner({from: 'dev', next: true, apps: [], files: [], policy: 'keep'})
    let raced = false
    const files = await exampleFiles()
    const result = await remoteWrite({
      repo: repo.url,
      planner: {
        ...planner,
        write: async (root, outcome) => {
          if (!raced) {
            raced = true
            // Another promotion of web (same tags) lands between our plan and our push.
            await repo!.commit(
              {
                [STAGING('web')]: files[STAGING('web')]!.replace(
                  /1\.4\.2/g,
                  '3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39'
                )
              },
              'web promoted by another job'
            )
          }
          await planner.write(root, outcome)
        }
      },
      message: o =>
        `Promote: ${o.plan.apps
          .filter(a => a.status === 'promoted')
          .map(a => a.app)
          .join(', ')}`,
      author: {name: 'bot', email: 'bot@example.com'},
      maxAttempts: 3,
      dryRun: false,
      env: {},
      redactor: new Redactor(),
      backoff: {baseMs: 1, capMs: 1}
    })
    expect(result).toMatchObject({kind: 'pushed', attempts: 2})
    const log = await repo.log()
    expect(log.map(l => l.subject).slice(0, 2)).toEqual([
      'Promote: api, worker',
      'web promoted by another job'
    ])
    const changed = await repo.git(['diff', '--name-only', log[1].sha, log[0].sha])
    expect(changed.trim().split('\n')).toEqual([STAGING('api'), STAGING('worker')])
    expect(result.outcome.plan.apps.find(a => a.app === 'web')?.status).toBe('unchanged')
  })
})
