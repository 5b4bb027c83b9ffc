/**
 * rollback against real git histories (file://): interleaved pin and
 * non-pin edits, --steps/--to, deepening a shallow history, idempotency
 * through the Rollback-Of trailer, -C in a local clone, and the GitHub API
 * transport against the double.
 */
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {rollbackEdit, type RollbackPlan} from '../../src/edits/rollback.js'
import {GitHubDouble} from '../doubles/github-double.js'
import {cli} from '../helpers/cli.js'
import {git, projectRepo, type ProjectRepo} from '../helpers/git-fixtures.js'
import {APP_TOKEN, GITLAB_TOKEN} from '../delivery/helpers.js'
import {GitLabDouble} from '../doubles/gitlab-double.js'
import {startGitHttpServer} from '../helpers/git-http-server.js'
import {fakeToken} from '../helpers/fake-token.js'

const DIR = 'apps/web/overlays/production'
const FILE = `${DIR}/kustomization.yaml`

function kustomization(tag: string, replicas = 2): string {
  return [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'resources:',
    '  - ../../base',
    '# replicas are tuned by the SRE team',
    'replicas:',
    '  - name: web',
    `    count: ${replicas}`,
    // Sorted by name, as kustomize edit set image keeps the list.
    'images:',
    '  - name: ghcr.io/acme/sidecar',
    '    newTag: 0.3.0',
    '  - name: ghcr.io/acme/web',
    `    newTag: ${tag} # bumped by CI`,
    ''
  ].join('\n')
}

let repo: ProjectRepo
const shas: Record<string, string> = {}

beforeEach(async () => {
  repo = await projectRepo({[FILE]: kustomization('0.9.0'), 'README.md': '# config\n'})
  shas.created = await repo.head()
  shas.v1 = await repo.commit({[FILE]: kustomization('1.0.0')}, 'Deploy web:1.0.0')
  shas.v2 = await repo.commit({[FILE]: kustomization('2.0.0')}, 'Deploy web:2.0.0')
  // Someone tunes replicas after the bad deploy: that edit must survive the rollback.
  shas.replicas = await repo.commit({[FILE]: kustomization('2.0.0', 5)}, 'Scale web to 5')
  shas.other = await repo.commit({'README.md': '# config repo\n'}, 'Docs')
})

afterEach(async () => {
  await repo.fsck()
  await repo.dispose()
})

const rollback = (...args: string[]) => cli(['rollback', '--repo', repo.url, ...args], {})

describe('rollback --repo (push)', () => {
  it('restores only the pin that changed last, keeps the later replicas edit, and names what it reverses', async () => {
    const r = await rollback('--path', DIR, '--reason', 'web 2.0.0 crash-loops', '--json')
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.restored).toEqual([
      {
        file: FILE,
        image: 'ghcr.io/acme/web',
        from: 'ghcr.io/acme/web:2.0.0',
        to: 'ghcr.io/acme/web:1.0.0'
      }
    ])
    expect(out.reverses).toEqual([shas.v2])
    expect(out.pushed).toBe(true)
    expect(await repo.readFile(FILE)).toBe(kustomization('1.0.0', 5))
    const [head] = await repo.log()
    expect(head.subject).toBe(`Roll back web in ${DIR}`)
    expect(head.body).toContain(`Reverses ${shas.v2.slice(0, 12)} (Deploy web:2.0.0)`)
    expect(head.body).toContain('Reason: web 2.0.0 crash-loops')
    expect(head.body).toContain(`Rollback-Of: ${shas.v2}`)
  })

  it('a second run does nothing (our rollback is not a change to roll back); --steps 2 goes one further', async () => {
    expect((await rollback('--path', DIR)).code).toBe(0)
    const after = await repo.head()
    const again = await rollback('--path', DIR, '--json')
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({changed: false, restored: []})
    expect(await repo.head()).toBe(after)
    const further = await rollback('--path', DIR, '--steps', '2', '--json')
    expect(further.code, further.stderr).toBe(0)
    expect(JSON.parse(further.stdout).reverses).toEqual([shas.v2, shas.v1])
    expect(await repo.readFile(FILE)).toBe(kustomization('0.9.0', 5))
  })

  it('--to restores the pins of a commit; --steps past the file creation is an error that says so', async () => {
    const to = await rollback('--path', DIR, '--to', shas.created.slice(0, 12))
    expect(to.code, to.stderr).toBe(0)
    expect(await repo.readFile(FILE)).toBe(kustomization('0.9.0', 5))
    await repo.commit({[FILE]: kustomization('2.0.0', 5)}, 'Deploy web:2.0.0 again')
    const before = await repo.head()
    const far = await rollback('--path', DIR, '--steps', '4')
    expect(far.code).toBe(2)
    expect(far.stderr).toMatch(
      new RegExp(
        `${FILE} was created in ${shas.created.slice(0, 12)} \\(Initial config\\) after \\d pin changes?: there is no earlier pin to restore`
      )
    )
    expect(await repo.head()).toBe(before)
  })

  it('--image limits it; an image whose only change is the file creation has no earlier pin (exit 2, says so)', async () => {
    const before = await repo.head()
    const r = await rollback('--path', DIR, '--image', 'ghcr.io/acme/sidecar')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(
      `${FILE} was created in ${shas.created.slice(0, 12)} (Initial config) after 0 pin changes`
    )
    expect(await repo.head()).toBe(before)
    const web = await rollback('--path', DIR, '--image', 'ghcr.io/acme/web', '--json')
    expect(web.code, web.stderr).toBe(0)
    expect(JSON.parse(web.stdout).restored.map((x: {image: string}) => x.image)).toEqual([
      'ghcr.io/acme/web'
    ])
  })

  it('deepens a shallow history until it reaches the change', async () => {
    for (let i = 0; i < 45; i++) await repo.commit({'README.md': `# config ${i}\n`}, `Docs ${i}`)
    const r = await rollback('--path', DIR, '--json')
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).reverses).toEqual([shas.v2])
    expect(await repo.readFile(FILE)).toBe(kustomization('1.0.0', 5))
  })

  it('--dry-run prints the diff and pushes nothing; bad input exits 2 touching nothing', async () => {
    const before = await repo.head()
    const dry = await rollback('--path', DIR, '--dry-run')
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toContain('-    newTag: 2.0.0 # bumped by CI')
    expect(dry.stdout).toContain('+    newTag: 1.0.0 # bumped by CI')
    for (const [args, message] of [
      [['--path', 'apps/nope'], /no kustomization under --path apps\/nope/],
      [['--path', DIR, '--steps', '0'], /--steps '0' is not a whole number/],
      [['--path', DIR, '--steps', '2', '--to', shas.v1], /--steps and --to exclude each other/],
      [['--path', DIR, '--to', 'main~1'], /--to 'main~1' is not a commit SHA/],
      [
        ['--path', DIR, '--to', 'abcdef1'],
        /--to abcdef1 is not a commit of the config repo branch/
      ],
      [['--path', DIR, '--message', 'x'], /--message is not taken by rollback/],
      [['--path', '../etc'], /--path/]
    ] as const) {
      const r = await rollback(...args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toMatch(message)
    }
    expect(await repo.head()).toBe(before)
  })
})

describe('rollback --key (Helm values)', () => {
  const VALUES = 'apps/payments/values-production.yaml'
  const values = (tag: string, replicas = 2) =>
    `# payments, production\nreplicaCount: ${replicas}\nimage:\n  repository: ghcr.io/acme/payments\n  tag: "${tag}" # bumped by CI\n`

  it('restores the value before its last change, keeping other edits; a second run does nothing', async () => {
    await repo.commit({[VALUES]: values('1.0.0')}, 'Add payments')
    const v2 = await repo.commit({[VALUES]: values('2.0.0')}, 'Deploy payments 2.0.0')
    await repo.commit({[VALUES]: values('2.0.0', 4)}, 'Scale payments')
    const r = await rollback('--key', `${VALUES}:image.tag`, '--json')
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.restored).toEqual([{file: VALUES, key: 'image.tag', from: '2.0.0', to: '1.0.0'}])
    expect(out.reverses).toEqual([v2])
    expect(await repo.readFile(VALUES)).toBe(values('1.0.0', 4))
    const again = await rollback('--key', `${VALUES}:image.tag`, '--json')
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout).changed).toBe(false)
    const bad = await rollback('--key', `${VALUES}:image.tag=1.0.0`)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('takes <file>:<key.path> without a value')
    const far = await rollback('--key', `${VALUES}:image.tag`, '--steps', '3')
    expect(far.code).toBe(2)
    expect(far.stderr).toContain(
      '--key apps/payments/values-production.yaml:image.tag: image.tag was created in'
    )
    expect(far.stderr).toContain('there is no earlier value to restore')
    const missing = await rollback('--key', `${VALUES}:image.nope`)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('has no image.nope')
  })
})

describe('rollback over smart HTTP with a token', () => {
  it('reads the history and pushes with the token, which never shows', async () => {
    const token = fakeToken('ghs_', 'Rollback')
    const server = await startGitHttpServer({
      root: join(repo.dir, '..'),
      credentials: [{user: 'x-access-token', password: token, access: 'write'}]
    })
    try {
      const url = server.repoUrl('config.git')
      const r = await cli(['rollback', '--repo', url, '--path', DIR, '--json'], {
        GITOPS_TOKEN: token
      })
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout).reverses).toEqual([shas.v2])
      expect(await repo.readFile(FILE)).toBe(kustomization('1.0.0', 5))
      expect(r.stdout + r.stderr).not.toContain(token)
      for (const q of server.requests) expect(q.url).not.toContain(token)
      const denied = await cli(['rollback', '--repo', url, '--path', DIR], {GITOPS_TOKEN: 'wrong'})
      expect(denied.code).toBe(1)
      expect(denied.stderr).toContain('could not read the history of the config repo')
    } finally {
      await server.close()
    }
  })
})

describe('rollback -C (a local clone)', () => {
  it('writes the restored pins into the working tree from its own history', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gitops-rollback-local-'))
    try {
      await git(dir, ['clone', '-q', repo.url, 'work'])
      const work = join(dir, 'work')
      const r = await cli(['rollback', '-C', work, '--path', DIR], {})
      expect(r.code, r.stderr).toBe(0)
      expect(await readFile(join(work, FILE), 'utf8')).toBe(kustomization('1.0.0', 5))
      const notGit = await mkdtemp(join(tmpdir(), 'gitops-rollback-plain-'))
      await writeFile(join(notGit, 'kustomization.yaml'), kustomization('1.0.0'))
      const plain = await cli(['rollback', '-C', notGit, '--path', '.'], {})
      expect(plain.code).toBe(1)
      expect(plain.stderr).toContain('is not inside a git repository')
      await rm(notGit, {recursive: true, force: true})
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

describe('the rollback edit on a tip that moved on', () => {
  it('leaves an image alone when the tip no longer holds the pin the history showed (fixed forward)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gitops-rollback-edit-'))
    try {
      await git(dir, ['init', '-q'])
      await writeFile(join(dir, 'kustomization.yaml'), kustomization('2.1.0'))
      const plan: RollbackPlan = {
        restores: [
          {
            file: 'kustomization.yaml',
            images: [{name: 'ghcr.io/acme/web', from: {newTag: '2.0.0'}, to: {newTag: '1.0.0'}}],
            reverses: [{sha: 'a'.repeat(40), subject: 'Deploy web:2.0.0'}]
          }
        ],
        skipped: []
      }
      const o = await rollbackEdit(plan).plan(dir)
      expect(o.changed).toBe(false)
      expect(o.movedOn).toEqual([
        {
          file: 'kustomization.yaml',
          name: 'ghcr.io/acme/web',
          now: {newTag: '2.1.0'},
          expected: {newTag: '2.0.0'}
        }
      ])
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

interface ForgeDouble {
  apiUrl: string
  token: string
  violations: string[]
  /** Runs before each request; the test moves the branch when the commit is about to be written. */
  setBeforeHandle(fn: (method: string, path: string) => Promise<void>): void
  /** The request that writes the commit. */
  isCommitWrite(method: string, path: string): boolean
  close(): Promise<void>
}

// One suite, both forges: the API transport commits the same rollback through either.
describe.each([
  {
    forge: 'github',
    start: async (gitDir: string): Promise<ForgeDouble> => {
      const d = await GitHubDouble.start({
        token: APP_TOKEN,
        repos: [{owner: 'acme', repo: 'config', gitDir}]
      })
      return {
        apiUrl: d.apiUrl,
        token: APP_TOKEN,
        violations: d.violations,
        setBeforeHandle: fn => (d.beforeHandle = fn),
        isCommitWrite: (_m, path) => path === '/api/graphql',
        close: () => d.close()
      }
    }
  },
  {
    forge: 'gitlab',
    start: async (gitDir: string): Promise<ForgeDouble> => {
      const d = await GitLabDouble.start({
        projects: [{id: 42, path: 'acme/config', gitDir}],
        token: GITLAB_TOKEN
      })
      return {
        apiUrl: d.apiUrl,
        token: GITLAB_TOKEN,
        violations: d.violations,
        setBeforeHandle: fn => (d.beforeHandle = fn),
        isCommitWrite: (method, path) => method === 'POST' && path.endsWith('/repository/commits'),
        close: () => d.close()
      }
    }
  }
])('rollback over the $forge API transport', ({forge, start}) => {
  let double: ForgeDouble
  beforeEach(async () => {
    double = await start(repo.dir)
  })
  afterEach(async () => {
    expect(double.violations).toEqual([])
    await double.close()
  })

  const apiRollback = (...args: string[]) =>
    cli(
      [
        'rollback',
        '--repo',
        repo.url,
        '--provider',
        forge,
        '--api-url',
        double.apiUrl,
        '--transport',
        'api',
        '--path',
        DIR,
        ...args
      ],
      {GITOPS_TOKEN: double.token}
    )

  it('reads the history with git and commits the restore through the API', async () => {
    const r = await apiRollback('--json')
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({changed: true, pushed: true, transport: 'api'})
    expect(await repo.readFile(FILE)).toBe(kustomization('1.0.0', 5))
    const [head] = await repo.log()
    expect(head.body).toContain(`Rollback-Of: ${shas.v2}`)
    expect(r.stdout + r.stderr).not.toContain(double.token)
  })

  it('a concurrent writer scaling the same file: the rollback is planned again and keeps the new replicas', async () => {
    let raced = false
    double.setBeforeHandle(async (method, path) => {
      if (raced || !double.isCommitWrite(method, path)) return
      raced = true
      await repo.commit({[FILE]: kustomization('2.0.0', 7)}, 'Scale web to 7')
    })
    const r = await apiRollback('--json')
    expect(r.code, r.stderr).toBe(0)
    expect(raced).toBe(true)
    expect(await repo.readFile(FILE)).toBe(kustomization('1.0.0', 7))
    const [head, scaled] = await repo.log()
    expect(scaled.subject).toBe('Scale web to 7')
    expect(head.body).toContain(`Rollback-Of: ${shas.v2}`)
  })
})
