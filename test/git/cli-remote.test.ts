/**
 * `set-image --repo` end to end through the CLI adapter (runCli, in-process):
 * the real edit engine, real git, file:// and smart-HTTP remotes.
 */
import {chmod, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {setImageCommand} from '../../src/commands/set-image.js'
import {cli as rawCli} from '../helpers/cli.js'
import {exampleFiles, makeBareRepo, type BareRepo} from '../helpers/git-fixtures.js'
import {startGitHttpServer, type GitHttpServer} from '../helpers/git-http-server.js'
import {fakeToken} from '../helpers/fake-token.js'

const STAGING = 'apps/web/overlays/staging'
const TOKEN = fakeToken('glpat-', 'CliTokenabcdef')

let repo: BareRepo
let server: GitHttpServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
  await repo?.cleanup()
})

async function exampleRepo(): Promise<BareRepo> {
  repo = await makeBareRepo(await exampleFiles())
  return repo
}

async function cli(args: string[], env: Record<string, string> = {}) {
  const run = await rawCli(['set-image', ...args], env)
  return {...run, json: () => JSON.parse(run.stdout)}
}

const CI_ENV = {
  GITHUB_REPOSITORY: 'acme/web',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_SHA: '1111111111111111111111111111111111111111',
  GITHUB_ACTOR: 'octocat'
}

describe('set-image --repo', () => {
  it('edits, commits and pushes with the default message, author and outputs', async () => {
    await exampleRepo()
    const before = await repo.readFile(`${STAGING}/kustomization.yaml`)
    const r = await cli(
      [
        '--repo',
        repo.url,
        '--path',
        STAGING,
        '--image',
        'ghcr.io/acme/web:1.5.0',
        '--image',
        'ghcr.io/acme/web-migrations:1.5.0',
        '--json'
      ],
      CI_ENV
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const json = r.json()
    const head = await repo.head()
    expect(json).toMatchObject({
      changed: true,
      commit: head,
      pushed: true,
      attempts: 1,
      branch: 'main',
      repo: repo.url
    })
    expect(json.files).toEqual([`${STAGING}/kustomization.yaml`])
    // Only the two tags changed; comments, quoting and order are untouched.
    expect(await repo.readFile(`${STAGING}/kustomization.yaml`)).toBe(
      before.replace(/newTag: 1\.4\.2/g, 'newTag: 1.5.0')
    )
    const [log] = await repo.log()
    expect(log.author).toBe('gitops-deploy <gitops-deploy@users.noreply.github.com>')
    expect(log.subject).toBe('Deploy web:1.5.0, web-migrations:1.5.0')
    expect(log.body).toBe(
      [
        `${STAGING}/kustomization.yaml`,
        '  ghcr.io/acme/web: ghcr.io/acme/web:1.4.2 -> ghcr.io/acme/web:1.5.0',
        '  ghcr.io/acme/web-migrations: ghcr.io/acme/web-migrations:1.4.2 -> ghcr.io/acme/web-migrations:1.5.0',
        '',
        'Source-Repo: https://github.com/acme/web',
        'Source-Commit: 1111111111111111111111111111111111111111'
      ].join('\n')
    )
    await repo.fsck()
  })

  it('re-running is a no-op: exit 0, changed false, no commit', async () => {
    await exampleRepo()
    const args = [
      '--repo',
      repo.url,
      '--path',
      STAGING,
      '--image',
      'ghcr.io/acme/web:1.5.0',
      '--json'
    ]
    expect((await cli(args)).code).toBe(0)
    const head = await repo.head()
    const again = await cli(args)
    expect(again.code).toBe(0)
    expect(again.json()).toMatchObject({
      changed: false,
      commit: null,
      pushed: false,
      attempts: 1,
      branch: 'main'
    })
    expect(await repo.head()).toBe(head)
  })

  it('--dry-run shows the diff and the commit message, pushes nothing', async () => {
    await exampleRepo()
    const head = await repo.head()
    const r = await cli([
      '--repo',
      repo.url,
      '--path',
      STAGING,
      '--image',
      'ghcr.io/acme/web:1.5.0',
      '--dry-run'
    ])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('-  newTag: 1.4.2\n+  newTag: 1.5.0')
    expect(r.stdout).toContain(`dry run: would commit to main of ${repo.url}:\n  Deploy web:1.5.0`)
    expect(await repo.head()).toBe(head)
  })

  it('edits Helm values with --set, on --branch, with --message and --author', async () => {
    await exampleRepo()
    await repo.git(['branch', 'release', 'main'])
    const r = await cli(
      [
        '--repo',
        repo.url,
        '--branch',
        'release',
        '--set',
        'helm/payments/values.yaml:image.tag=2.0.0',
        '--message',
        'payments {{files}}\\n\\nby {{actor}}\\n{{trailers}}',
        '--author',
        'Release Bot <release@example.com>',
        '--json'
      ],
      {
        CI_PROJECT_URL: 'https://gitlab.com/acme/payments',
        CI_COMMIT_SHA: 'abc123',
        GITLAB_USER_LOGIN: 'dev'
      }
    )
    expect(r.stderr).toBe('')
    expect(r.json()).toMatchObject({pushed: true, branch: 'release'})
    expect(await repo.readFile('helm/payments/values.yaml', 'release')).toContain('tag: "2.0.0"')
    expect(await repo.readFile('helm/payments/values.yaml', 'main')).toContain('tag: "1.0.0"')
    const [log] = await repo.log('release')
    expect(log).toMatchObject({
      subject: 'payments helm/payments/values.yaml',
      author: 'Release Bot <release@example.com>'
    })
    expect(log.body).toBe(
      'by dev\nSource-Repo: https://gitlab.com/acme/payments\nSource-Commit: abc123'
    )
  })

  it('bad input exits 2 with the fix before anything is cloned', async () => {
    await exampleRepo()
    server = await startGitHttpServer({root: join(repo.dir, '..')})
    const url = server.repoUrl('config.git')
    const cases: [string[], RegExp][] = [
      [['--path', STAGING, '--image', 'ghcr.io/acme/web'], /image/i],
      [['--path', '../outside', '--image', 'web:1'], /uses '\.\.'/],
      [
        ['--path', STAGING, '--image', 'web:bad tag!'],
        /--image "web:bad tag!": the tag "bad tag!" is not valid/
      ],
      [
        ['--path', STAGING, '--image', 'Ghcr.io/ACME/web::'],
        /path component "ACME", which is not allowed/
      ],
      [
        ['--path', STAGING, '--image', 'web:1', '--max-attempts', 'many'],
        /--max-attempts must be a whole number/
      ],
      [['--path', STAGING, '--image', 'web:1', '--author', 'bot'], /is not "Name <email>"/],
      [
        ['--path', STAGING, '--image', 'web:1', '--message', '{{nope}}'],
        /unknown placeholder \{\{nope\}\}/
      ],
      [
        ['--path', STAGING, '--image', 'web:1', '-C', '.'],
        /-C\/--root and --repo exclude each other/
      ]
    ]
    for (const [args, message] of cases) {
      const r = await cli(['--repo', url, ...args])
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(message)
    }
    expect(server.requests).toEqual([])
    const local = await cli(['--branch', 'main', '--path', STAGING, '--image', 'web:1'])
    expect(local.code).toBe(2)
    expect(local.stderr).toMatch(/--branch only applies with --repo/)
    const credentials = await cli([
      '--repo',
      `https://bot:${TOKEN}@example.com/config`,
      '--path',
      STAGING,
      '--image',
      'web:1'
    ])
    expect(credentials.code).toBe(2)
    expect(credentials.stderr).toMatch(
      /contains a password or token; remove it from the URL and set GITOPS_TOKEN/
    )
    expect(credentials.stderr).not.toContain(TOKEN)
  })

  it('a --path missing in the remote exits 2 and leaves the remote untouched', async () => {
    await exampleRepo()
    const head = await repo.head()
    const r = await cli(['--repo', repo.url, '--path', 'apps/nope/overlays/*', '--image', 'web:1'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--path "apps\/nope\/overlays\/\*" matches no directory/)
    expect(await repo.head()).toBe(head)
  })

  it('a protected branch exits 1 and says why; JSON reports pushed false', async () => {
    await exampleRepo()
    const hook = join(repo.dir, 'hooks', 'pre-receive')
    await writeFile(
      hook,
      '#!/bin/sh\necho "GitLab: You are not allowed to push code to protected branches on this project." >&2\nexit 1\n'
    )
    await chmod(hook, 0o755)
    const r = await cli([
      '--repo',
      repo.url,
      '--path',
      STAGING,
      '--image',
      'ghcr.io/acme/web:1.5.0',
      '--json'
    ])
    expect(r.code).toBe(1)
    expect(r.json()).toMatchObject({pushed: false, commit: null, attempts: 1})
    expect(r.json().error).toMatch(
      /^error: push to main of .* rejected after 1 attempt: branch 'main' is protected .*push through a pull request/
    )
    const text = await cli([
      '--repo',
      repo.url,
      '--path',
      STAGING,
      '--image',
      'ghcr.io/acme/web:1.5.0'
    ])
    expect(text.code).toBe(1)
    expect(text.stdout.split('\n')[0]).toMatch(/^error: push to main .* rejected/)
  })

  it('over smart HTTP the token is used from GITOPS_TOKEN and appears in no output', async () => {
    await exampleRepo()
    server = await startGitHttpServer({
      root: join(repo.dir, '..'),
      credentials: [{user: 'oauth2', password: TOKEN, access: 'write'}]
    })
    const url = server.repoUrl('config.git')
    const args = ['--repo', url, '--path', STAGING, '--image', 'ghcr.io/acme/web:1.5.0']
    const env = {GITOPS_TOKEN: TOKEN, GITOPS_TOKEN_USER: 'oauth2', GITOPS_DEBUG: '1'}
    const ok = await cli([...args, '--json'], env)
    expect(ok.code).toBe(0)
    expect(ok.json()).toMatchObject({pushed: true, repo: url})
    const wrong = await cli(args, {...env, GITOPS_TOKEN: `${TOKEN}x`})
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(
      /^error: authentication failed: the token in GITOPS_TOKEN \(user 'oauth2'/m
    )
    for (const out of [ok.stdout, ok.stderr, wrong.stdout, wrong.stderr]) {
      expect(out).not.toContain(TOKEN)
      expect(out).not.toContain(Buffer.from(`oauth2:${TOKEN}`).toString('base64'))
    }
  })

  it('rides out 502s from the server: the clone is retried and the edit lands', async () => {
    await exampleRepo()
    server = await startGitHttpServer({
      root: join(repo.dir, '..'),
      credentials: [{user: 'oauth2', password: TOKEN, access: 'write'}]
    })
    server.failNext(2)
    const url = server.repoUrl('config.git')
    const env = {GITOPS_TOKEN: TOKEN, GITOPS_TOKEN_USER: 'oauth2'}
    const r = await cli(
      ['--repo', url, '--path', STAGING, '--image', 'ghcr.io/acme/web:1.5.0', '--json'],
      env
    )
    expect(r.code).toBe(0)
    expect(r.json()).toMatchObject({pushed: true, attempts: 1})
    expect(server.requests.filter(q => q.status === 502)).toHaveLength(2)
    expect(await repo.readFile(`${STAGING}/kustomization.yaml`)).toContain('newTag: 1.5.0')
  })

  it('a server that keeps answering 502 fails after --max-attempts with the cause and the fix', async () => {
    await exampleRepo()
    server = await startGitHttpServer({
      root: join(repo.dir, '..'),
      credentials: [{user: 'oauth2', password: TOKEN, access: 'write'}]
    })
    server.failNext(Infinity)
    const head = await repo.head()
    const r = await cli(
      [
        '--repo',
        server.repoUrl('config.git'),
        '--path',
        STAGING,
        '--image',
        'ghcr.io/acme/web:1.5.0',
        '--max-attempts',
        '3'
      ],
      {GITOPS_TOKEN: TOKEN, GITOPS_TOKEN_USER: 'oauth2'}
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /^error: could not read http:\/\/127\.0\.0\.1:\d+\/config\.git: the server kept failing after 3 attempts \(.*502.*\); this is a server or network problem: re-run the job later \(check the forge's status page\), or raise --max-attempts/m
    )
    expect(server.requests).toHaveLength(3)
    expect(r.stderr).not.toContain(TOKEN)
    expect(await repo.head()).toBe(head)
  })

  it('the job summary links the commit and shows the attempts', () => {
    const summary = setImageCommand.summary({
      outcome: {
        changed: true,
        edits: [{file: 'a/kustomization.yaml', image: 'web', before: 'web:1', after: 'web:2'}],
        files: [],
        diff: ''
      },
      dryRun: false,
      remote: {
        repo: 'https://github.com/acme/config',
        branch: 'main',
        commit: 'abcdef0123456789abcdef0123456789abcdef01',
        pushed: true,
        attempts: 3,
        commitUrl: 'https://github.com/acme/config/commit/abcdef0123456789abcdef0123456789abcdef01'
      }
    })
    expect(summary).toContain(
      '**Commit:** [`abcdef012345`](https://github.com/acme/config/commit/abcdef0123456789abcdef0123456789abcdef01)'
    )
    expect(summary).toContain('**Attempts:** 3')
    expect(
      setImageCommand.outputs({
        outcome: {changed: false, edits: [], files: [], diff: ''},
        dryRun: false,
        remote: {repo: 'r', branch: 'main', commit: null, pushed: false, attempts: 1}
      })
    ).toMatchObject({
      commit: '',
      pushed: 'false',
      attempts: '1',
      branch: 'main'
    })
  })
})
