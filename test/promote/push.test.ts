import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {EXAMPLE_CONFIG_REPO, exampleFiles} from '../helpers/git-fixtures.js'
import {missingTool} from '../helpers/tools.js'
import {TOKEN, exampleRepo, cli, type ExampleRepo} from './helpers.js'

let repo: ExampleRepo | undefined

afterEach(async () => {
  await repo?.fsck()
  await repo?.dispose()
  repo = undefined
})

const STAGING = (app: string) => `apps/${app}/overlays/staging/kustomization.yaml`

/** `promote --repo <this test's repo> --mode push <args>` through the in-process CLI. */
function promotePush(...args: string[]) {
  return cli(['promote', '--repo', repo!.url, '--mode', 'push', ...args])
}

describe('promote --mode push (real git, file://)', () => {
  it('promotes every app dev -> staging in one commit, touching only the changed lines', async () => {
    repo = await exampleRepo()
    const before = await repo.head()
    const r = await promotePush('--from', 'dev', '--next', '--json')
    expect(r.stderr).not.toMatch(/error/)
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({
      from: 'dev',
      to: 'staging',
      outcome: 'pushed',
      changed: true,
      pushed: true,
      attempts: 1
    })
    expect(out.apps.map((a: {app: string; status: string}) => [a.app, a.status])).toEqual([
      ['api', 'promoted'],
      ['web', 'promoted'],
      ['worker', 'promoted']
    ])
    const log = await repo.log()
    expect(log[0].sha).toBe(out.commit)
    expect(log[0].parents).toEqual([before])
    expect(log[0].subject).toBe('Promote dev to staging: api, web, worker')
    expect(log[0].body).toContain(
      'ghcr.io/acme/web 1.4.2 -> 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39'
    )
    expect(log[0].body).toContain('Promoted-From: dev\nPromoted-To: staging')
    const changed = (await repo.git(['diff', '--name-only', before, out.commit])).trim().split('\n')
    expect(changed).toEqual([STAGING('api'), STAGING('web'), STAGING('worker')])
    // Byte preservation: only newTag values differ; the comment and the flush-left list style stay.
    const diff = await repo.git(['diff', '-U0', before, out.commit, '--', STAGING('web')])
    const minus = diff.split('\n').filter(l => /^-[^-]/.test(l))
    const plus = diff.split('\n').filter(l => /^\+[^+]/.test(l))
    expect(minus).toEqual(['-  newTag: 1.4.2', '-  newTag: 1.4.2'])
    expect(plus).toEqual([
      '+  newTag: 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39',
      '+  newTag: 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39'
    ])
    expect(await repo.readFile(STAGING('web'))).toContain(
      '# Promoted from dev by `gitops-deploy promote --from dev --next`.'
    )
  })

  it('leaves identical pins alone: a second run makes no commit', async () => {
    repo = await exampleRepo()
    expect((await promotePush('--from', 'dev', '--to', 'staging')).code).toBe(0)
    const head = await repo.head()
    const r = await promotePush('--from', 'dev', '--to', 'staging', '--json')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({outcome: 'unchanged', changed: false, pushed: false})
    expect(out.apps.every((a: {status: string}) => a.status === 'unchanged')).toBe(true)
    expect(await repo.head()).toBe(head)
  })

  it('keeps the production registry mirror (newName) and copies only the version', async () => {
    repo = await exampleRepo()
    const r = await promotePush(
      '--from',
      'staging',
      '--next',
      '--app',
      'web',
      '--dotenv',
      '/dev/null'
    )
    expect(r.code).toBe(0)
    const prod = await repo.readFile('apps/web/overlays/production/kustomization.yaml')
    expect(prod).toContain(
      '  - name: ghcr.io/acme/web\n    newName: registry.acme.example/mirror/web   # production pulls from the mirror\n    newTag: 1.4.2\n'
    )
    expect(prod).toContain(
      'newName: registry.acme.example/mirror/web-migrations\n    newTag: 1.4.2\n'
    )
    expect(r.stdout).toContain(
      'ghcr.io/acme/web: registry.acme.example/mirror/web:1.4.1 -> registry.acme.example/mirror/web:1.4.2'
    )
    // --new-name copy would drop the mirror: the source has none.
    await repo.commit(
      {
        'apps/web/overlays/staging/kustomization.yaml': (await exampleFiles())[
          STAGING('web')
        ]!.replace(/1\.4\.2/g, '1.4.3')
      },
      'bump'
    )
    const c = await promotePush(
      '--from',
      'staging',
      '--to',
      'production',
      '--app',
      'web',
      '--new-name',
      'copy'
    )
    expect(c.code).toBe(0)
    expect(await repo.readFile('apps/web/overlays/production/kustomization.yaml')).not.toContain(
      'mirror/web\n'
    )
  })

  it('reports an app missing in the target instead of creating it, and promotes the rest', async () => {
    repo = await exampleRepo({
      'apps/batch/overlays/dev/kustomization.yaml':
        'resources: []\nimages:\n  - name: ghcr.io/acme/batch\n    newTag: "7"\n'
    })
    const r = await promotePush(
      '--from',
      'dev',
      '--next',
      '--app',
      'b*',
      '--app',
      'api',
      '--dotenv',
      `/tmp/promote-dotenv-${process.pid}`
    )
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(
      'batch: not in staging (apps/batch/overlays/staging has no kustomization) — not created'
    )
    expect(await repo.listFiles()).not.toContain('apps/batch/overlays/staging/kustomization.yaml')
    const {readFile, rm} = await import('node:fs/promises')
    const dotenv = await readFile(`/tmp/promote-dotenv-${process.pid}`, 'utf8')
    await rm(`/tmp/promote-dotenv-${process.pid}`)
    expect(dotenv).toContain('GITOPS_MISSING=["batch"]')
    expect(dotenv).toMatch(
      /GITOPS_PROMOTED=\[\{"app":"api","images":\[\{"name":"ghcr.io\/acme\/api","from":"2.7.0","to":"2.8.0-rc.1"\}/
    )
    expect(dotenv).toContain('GITOPS_PUSHED=true')
  })

  it('copies --files verbatim and reports the copies', async () => {
    repo = await exampleRepo({
      'apps/web/overlays/dev/config/app.properties': 'log.level=debug\nfeature.x=on\n',
      'apps/web/overlays/staging/config/app.properties': 'log.level=info\n'
    })
    const r = await promotePush(
      '--from',
      'dev',
      '--next',
      '--app',
      'web',
      '--files',
      'config/*.properties',
      '--json'
    )
    expect(r.code).toBe(0)
    expect(await repo.readFile('apps/web/overlays/staging/config/app.properties')).toBe(
      'log.level=debug\nfeature.x=on\n'
    )
    const web = JSON.parse(r.stdout).apps[0]
    expect(web.files).toEqual([
      {
        kind: 'updated',
        from: 'apps/web/overlays/dev/config/app.properties',
        to: 'apps/web/overlays/staging/config/app.properties'
      }
    ])
  })

  it.skipIf(missingTool('kubectl'))(
    'refuses a promotion whose --files copy breaks the target render (the render check): remote untouched',
    async () => {
      const staging = (
        await readFile(
          join(EXAMPLE_CONFIG_REPO, 'apps/web/overlays/staging/kustomization.yaml'),
          'utf8'
        )
      ).replace('resources:\n- ../../base\n', 'resources:\n- ../../base\n- config/extra.yaml\n')
      repo = await exampleRepo({
        // dev's copy of the file is not a Kubernetes object: kustomize cannot load it.
        'apps/web/overlays/dev/config/extra.yaml': 'just: [text\n',
        'apps/web/overlays/staging/config/extra.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n',
        'apps/web/overlays/staging/kustomization.yaml': staging
      })
      const refs = await repo.git(['show-ref'])
      const r = await promotePush(
        '--from',
        'dev',
        '--next',
        '--app',
        'web',
        '--files',
        'config/extra.yaml'
      )
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(
        /^error: render check: a kustomization does not render after this change, so nothing was pushed: apps\/web\/overlays\/staging: .*Fix the edit, or pass --render-check never/
      )
      expect(await repo.git(['show-ref'])).toBe(refs)
    }
  )

  it('rejects an unknown environment with exit 2, the known names, and an untouched remote', async () => {
    repo = await exampleRepo()
    const head = await repo.head()
    const r = await promotePush('--from', 'dev', '--to', 'prod')
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      "error: --to 'prod' is not an environment in .gitops-deploy.yaml; use one of: dev, staging, production\n"
    )
    expect(await repo.head()).toBe(head)
    const last = await promotePush('--from', 'production', '--next')
    expect(last.code).toBe(2)
    expect(last.stderr).toMatch(/'production' is the last environment/)
  })

  it('rejects a malformed config file with exit 2 and names it', async () => {
    repo = await exampleRepo({
      '.gitops-deploy.yaml':
        'environments:\n  - name: dev\n    path: apps/{app}/overlays/dev\n    branch: main\n'
    })
    const head = await repo.head()
    const r = await promotePush('--from', 'dev', '--to', 'staging')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/\.gitops-deploy\.yaml: environments\[0\]: unknown key 'branch'/)
    expect(await repo.head()).toBe(head)
  })

  it('takes directories for --from/--to when the repo has no config file', async () => {
    repo = await exampleRepo({'.gitops-deploy.yaml': null})
    const r = await promotePush(
      '--from',
      'apps/api/overlays/dev',
      '--to',
      'apps/api/overlays/staging',
      '--json'
    )
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).apps).toMatchObject([
      {app: 'apps/api/overlays/dev', status: 'promoted'}
    ])
    expect(await repo.readFile(STAGING('api'))).toContain('newTag: 2.8.0-rc.1')
    const next = await promotePush('--from', 'apps/api/overlays/dev', '--next')
    expect(next.code).toBe(2)
    expect(next.stderr).toMatch(/--next needs the environment order from \.gitops-deploy\.yaml/)
  })

  it('--dry-run reports the plan and pushes nothing', async () => {
    repo = await exampleRepo()
    const head = await repo.head()
    const r = await promotePush('--from', 'dev', '--next', '--dry-run')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^dry run: would promote dev -> staging on main; nothing pushed/)
    expect(await repo.head()).toBe(head)
  })

  it('outputs changed/commit as action.yml documents them: dry run, push, then nothing left', async () => {
    repo = await exampleRepo()
    const dir = await mkdtemp(join(tmpdir(), 'gitops-promote-out-'))
    try {
      const outputs = async (...args: string[]) => {
        const file = join(dir, 'out.env')
        const r = await promotePush('--from', 'dev', '--next', '--dotenv', file, ...args)
        expect(r.code, r.stderr).toBe(0)
        return Object.fromEntries(
          (await readFile(file, 'utf8'))
            .trim()
            .split('\n')
            .map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])
        )
      }
      // A dry run that would change files: changed, but no commit (not the base sha).
      expect(await outputs('--dry-run')).toMatchObject({GITOPS_CHANGED: 'true', GITOPS_COMMIT: ''})
      const pushed = await outputs()
      expect(pushed).toMatchObject({GITOPS_CHANGED: 'true', GITOPS_PUSHED: 'true'})
      expect(pushed.GITOPS_COMMIT).toBe(await repo.head())
      // Nothing left to promote: unchanged, and no commit although the branch has a tip.
      expect(await outputs()).toMatchObject({GITOPS_CHANGED: 'false', GITOPS_COMMIT: ''})
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })

  it('validates flags before touching the network', async () => {
    const cases: [string[], RegExp][] = [
      [['--from', 'dev', '--mode', 'push'], /--to <env> or --next/],
      [
        ['--from', 'dev', '--next', '--mode', 'merge'],
        /--mode 'merge' is not known; use pr or push/
      ],
      [
        ['--from', 'dev', '--next', '--mode', 'push', '--labels', 'x'],
        /--labels only applies to --mode pr/
      ],
      [['--from', 'dev', '--next', '--new-name', 'drop'], /--new-name 'drop' is not known/],
      [['--from', 'dev', '--next', '--author', 'bot'], /--author 'bot' is not "Name <email>"/],
      [['--from', 'dev', '--next', '--message', 'Promote {{env}}'], /unknown variable \{\{env\}\}/],
      [['--from', 'dev', '--next', '--dry-run'], /--dry-run applies to --mode push/],
      [['--next', '--mode', 'push'], /--from is required/],
      [
        ['--from', 'dev', '--next', '--draft', '--auto-merge', 'squash'],
        /--draft and --auto-merge contradict/
      ]
    ]
    for (const [args, message] of cases) {
      const r = await cli(['promote', '--repo', 'file:///nonexistent/acme/config.git', ...args], {
        GITOPS_TOKEN: TOKEN
      })
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(message)
    }
  })
})
