/**
 * The loop closed: set-image --wait and the `wait` command against a real
 * git config repo (file://) and the Argo CD double, whose controller
 * compares and auto-syncs the apps that follow the branch some time after a
 * push lands (as the 3-minute poll or a webhook would).
 */
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {ArgoCdDouble, IN_CLUSTER} from '../doubles/argocd-double.js'
import {appsTree, makeBareRepo, kustomization, type BareRepo} from '../helpers/git-fixtures.js'
import {cli} from '../argocd/helpers.js'
import {GitHubDouble} from '../doubles/github-double.js'

const APP = 'apps/app-0000'
const IMAGE = 'ghcr.io/acme/app-0000'

let repo: BareRepo
let double: ArgoCdDouble
let token: string
let follow: NodeJS.Timeout | undefined
/** Followers stop rescheduling once the test is over (its repo is gone). */
let following = false

function seed(
  name: string,
  path: string,
  targetRevision: string,
  extra: Record<string, unknown> = {}
) {
  double.seed(
    {
      metadata: {name, namespace: 'argocd', ...extra},
      spec: {
        project: 'default',
        source: {repoURL: repo.url, path, targetRevision},
        destination: {server: IN_CLUSTER, namespace: 'shop'},
        syncPolicy: {automated: {prune: true}}
      }
    },
    {deployed: true}
  )
}

/** Tells the double about every new tip of main, as Argo CD's repo poll would learn of it. */
function followPushes(delayMs = 150): void {
  let last = ''
  following = true
  const tick = async () => {
    if (!following) return
    const head = await repo.head().catch(() => '')
    if (head && head !== last) {
      if (last) double.pushed('main', head, {delayMs})
      last = head
    }
    if (following) follow = setTimeout(() => void tick(), 20)
  }
  void tick()
}

beforeEach(async () => {
  repo = await makeBareRepo(appsTree(1))
  double = await new ArgoCdDouble().start()
  double.addProject('default')
  token = double.token('ci', [{action: 'get', object: '*/*'}])
  double.branchHeads.set('main', await repo.head())
  double.branchHeads.set('HEAD', await repo.head())
  seed('web-staging', `${APP}/overlays/staging`, 'main')
  // An ApplicationSet-generated app over the whole app directory, following HEAD.
  seed('web-all', APP, 'HEAD', {
    labels: {'app.kubernetes.io/managed-by': 'applicationset'},
    ownerReferences: [
      {apiVersion: 'argoproj.io/v1alpha1', kind: 'ApplicationSet', name: 'web', uid: 'u1'}
    ]
  })
  seed('web-prod', `${APP}/overlays/prod`, 'main')
  seed('web-release', `${APP}/overlays/staging`, 'release')
  seed('web-pinned', `${APP}/overlays/staging`, 'v1.0.0')
})

afterEach(async () => {
  following = false
  clearTimeout(follow)
  follow = undefined
  await double.close()
  await repo.cleanup()
})

const env = () => ({ARGOCD_AUTH_TOKEN: token})

/** set-image of the staging overlay, without any wait flag. */
const pushArgs = (...extra: string[]): string[] => [
  'set-image',
  '--repo',
  repo.url,
  '--path',
  `${APP}/overlays/staging`,
  '--image',
  `${IMAGE}:2.0.0`,
  ...extra
]

function setImage(extra: string[] = [], extraEnv: Record<string, string> = {}) {
  return cli(pushArgs('--wait', '--argocd-server', double.url, '--timeout', '20', ...extra), {
    ...env(),
    ...extraEnv
  })
}

describe('set-image --wait', () => {
  it('pushes, finds the apps that deploy the overlay, and exits 0 once both run the commit Synced and Healthy', async () => {
    followPushes()
    const r = await setImage(['--json'])
    expect(r.code, r.stderr).toBe(0)
    const head = await repo.head()
    expect(r.json!.commit).toBe(head)
    expect(r.json!.wait.deployed).toBe(true)
    const apps = r.json!.wait.apps as {
      name: string
      result: string
      revision: string
      sync: string
      health: string
      matchedBy: string
    }[]
    expect(apps.map(a => a.name).sort()).toEqual(['web-all', 'web-staging'])
    for (const a of apps)
      expect(a).toMatchObject({
        result: 'healthy',
        revision: head,
        sync: 'Synced',
        health: 'Healthy'
      })
    expect(apps.find(a => a.name === 'web-all')!.matchedBy).toBe(
      `path ${APP} holds ${APP}/overlays/staging/kustomization.yaml`
    )
    // Discovery is one filtered List call, and each app got a normal refresh.
    expect(double.calls('GET', '/api/v1/applications')).toHaveLength(1)
    expect(double.calls('GET', '/api/v1/applications')[0].query).toEqual({repo: repo.url})
    expect(
      double
        .calls('GET', '/api/v1/applications/web-staging')
        .some(c => c.query.refresh === 'normal')
    ).toBe(true)
    expect(double.violations).toEqual([])
    expect(r.stdout + r.stderr).not.toContain(token)
  })

  it('exits 1 naming the app and its unhealthy resources when one degrades', async () => {
    double.behave('web-staging', {outcome: 'degraded'})
    followPushes()
    const r = await setImage(['--degraded-grace', '0'])
    expect(r.code, r.stderr).toBe(1)
    expect(r.stdout).toMatch(
      /web-staging: FAILED \(Synced\/Degraded at [0-9a-f]{12}, [\d.]+s\): health Degraded/
    )
    expect(r.stdout).toContain(
      'Deployment/shop/web-staging (Synced/Degraded): Deployment "web-staging" exceeded its progress deadline'
    )
    expect(r.stdout).toMatch(/web-all: deployed/)
    expect(r.stdout).toContain(`${double.url}/applications/argocd/web-staging`)
  })

  it('exits 1 naming the apps still waiting when the timeout passes', async () => {
    double.behave('web-staging', {outcome: 'stuck'})
    followPushes()
    const r = await setImage(['--timeout', '2'])
    expect(r.code, r.stderr).toBe(1)
    expect(r.stdout).toMatch(/web-staging: TIMED OUT .*timed out after 2s \(--timeout\)/)
  })

  it('refuses --wait where no commit is pushed, and wait flags without --wait, touching nothing', async () => {
    const before = await repo.head()
    const pr = await cli(
      [
        'set-image',
        '--repo',
        repo.url,
        '--mode',
        'pr',
        '--path',
        `${APP}/overlays/staging`,
        '--image',
        `${IMAGE}:2.0.0`,
        '--wait',
        '--argocd-server',
        double.url
      ],
      {...env(), GITOPS_TOKEN: 'x'}
    )
    expect(pr.code).toBe(2)
    expect(pr.stderr).toContain('--wait applies to --mode push')
    const dry = await setImage(['--dry-run'])
    expect(dry.code).toBe(2)
    expect(dry.stderr).toContain('--wait and --dry-run exclude each other')
    const stray = await cli(pushArgs('--timeout', '5'), env())
    expect(stray.code).toBe(2)
    expect(stray.stderr).toContain(
      '--timeout only applies with --wait; add --wait or drop --timeout'
    )
    const noToken = await cli(pushArgs('--wait', '--argocd-server', double.url), {})
    expect(noToken.code).toBe(2)
    expect(noToken.stderr).toContain('ARGOCD_AUTH_TOKEN is not set')
    expect(await repo.head()).toBe(before)
  })
})

/** The application repo (one commit) and the GitHub double serving it. */
async function withGitHub(
  fn: (gh: GitHubDouble, ghEnv: Record<string, string>) => Promise<void>
): Promise<void> {
  const appRepo = await makeBareRepo({'main.go': 'package main\n'})
  const gh = await GitHubDouble.start({
    repos: [{owner: 'acme', repo: 'web', gitDir: appRepo.dir}],
    token: 'ghs_apptoken'
  })
  try {
    await fn(gh, {
      GITHUB_REPOSITORY: 'acme/web',
      GITHUB_SHA: await appRepo.head(),
      GITHUB_API_URL: gh.apiUrl
    })
    expect(gh.violations).toEqual([])
  } finally {
    await gh.close()
    await appRepo.cleanup()
  }
}

describe('--github-deployment', () => {
  it('records a Deployment of the application commit: in_progress, then success, linked to the Argo CD app', async () => {
    await withGitHub(async (gh, ghEnv) => {
      followPushes()
      const r = await setImage(['--github-deployment', '--json'], {
        ...ghEnv,
        GITHUB_TOKEN: 'ghs_apptoken'
      })
      expect(r.code, r.stderr).toBe(0)
      expect(gh.deployments).toHaveLength(1)
      const d = gh.deployments[0]
      expect(d).toMatchObject({sha: ghEnv.GITHUB_SHA, environment: 'staging'})
      expect(d.statuses.map(x => x.state)).toEqual(['in_progress', 'success'])
      expect(d.statuses[1].environment_url).toMatch(
        new RegExp(`^${double.url}/applications/argocd/web-`)
      )
      expect(r.json!.wait.githubDeployment).toEqual({
        kind: 'recorded',
        id: d.id,
        environment: 'staging',
        state: 'success'
      })
      expect(r.stdout + r.stderr).not.toContain('ghs_apptoken')
    })
  })

  it('marks the deployment failure when an app degrades, and a bad token does not stop the wait', async () => {
    await withGitHub(async (gh, ghEnv) => {
      double.behave('web-staging', {outcome: 'degraded'})
      followPushes()
      const r = await setImage(
        ['--degraded-grace', '0', '--github-deployment', '--environment', 'stage-eu'],
        {
          ...ghEnv,
          GITHUB_TOKEN: 'ghs_apptoken'
        }
      )
      expect(r.code).toBe(1)
      expect(gh.deployments[0].environment).toBe('stage-eu')
      expect(gh.deployments[0].statuses.map(x => x.state)).toEqual(['in_progress', 'failure'])
      expect(gh.deployments[0].statuses[1].environment_url).toBe(
        `${double.url}/applications/argocd/web-staging`
      )

      const wrong = await cli(
        [
          'wait',
          '--repo',
          repo.url,
          '--commit',
          await repo.head(),
          '--path',
          `${APP}/overlays/staging`,
          '--argocd-server',
          double.url,
          '--timeout',
          '20',
          '--degraded-grace',
          '0',
          '--github-deployment'
        ],
        {...env(), ...ghEnv, GITHUB_TOKEN: 'ghs_wrong'}
      )
      expect(wrong.code).toBe(1) // still the deploy's verdict
      expect(wrong.stdout).toContain(
        'GitHub deployment to staging not recorded: GitHub could not create a deployment on acme/web: HTTP 401'
      )
      expect(wrong.stdout + wrong.stderr).not.toContain('ghs_wrong')
    })
  })

  it('refuses --github-deployment without the application repo facts, and --environment without it', async () => {
    const r = await setImage(['--github-deployment'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(
      '--github-deployment needs a token for the application repository in GITHUB_TOKEN'
    )
    const e = await setImage(['--environment', 'staging'])
    expect(e.code).toBe(2)
    expect(e.stderr).toContain('--environment only applies with --github-deployment')
  })
})

describe('--rollback-on-failure', () => {
  /** web-staging degrades on any revision but the ones it ran before the test (the old tag is healthy). */
  async function degradeNewRevisions() {
    const good = new Set([await repo.head()])
    let bad: string | undefined
    double.behave('web-staging', {
      outcome: 'healthy',
      outcomeFor: rev => {
        if (good.has(rev)) return 'healthy'
        bad ??= rev
        return rev === bad ? 'degraded' : 'healthy'
      }
    })
  }

  it('restores the previous pin when the new tag degrades, pushes it, waits until it is healthy, and still exits 1', async () => {
    await degradeNewRevisions()
    const before = await repo.head()
    followPushes()
    const r = await setImage(['--degraded-grace', '0', '--rollback-on-failure', '--json'])
    expect(r.code, r.stderr).toBe(1)
    const out = r.json!
    expect(out.wait.deployed).toBe(false)
    expect(out.rollback).toMatchObject({
      rolledBack: true,
      restored: [
        {
          file: `${APP}/overlays/staging/kustomization.yaml`,
          image: IMAGE,
          from: `${IMAGE}:2.0.0`,
          to: `${IMAGE}:1.0.0`
        }
      ],
      wait: {deployed: true}
    })
    const log = await repo.log()
    expect(log[0].sha).toBe(out.rollback.commit)
    expect(log[0].body).toContain(`Rollback-Of: ${out.commit}`)
    expect(log[0].body).toMatch(/Reason: deploy of [0-9a-f]{12} failed: web-staging Degraded/)
    expect(log[1].sha).toBe(out.commit)
    expect(log[2].sha).toBe(before)
    expect(await repo.readFile(`${APP}/overlays/staging/kustomization.yaml`)).toBe(
      await repo.readFile(`${APP}/overlays/staging/kustomization.yaml`, before)
    )
  })

  it('also undoes a --set value (Helm values) this run changed', async () => {
    const VALUES = `${APP}/overlays/staging/values.yaml`
    await repo.commit({[VALUES]: 'image:\n  tag: "1.0.0" # bumped by CI\n'}, 'values')
    double.branchHeads.set('main', await repo.head())
    double.branchHeads.set('HEAD', await repo.head())
    await degradeNewRevisions()
    followPushes()
    const r = await cli(
      [
        'set-image',
        '--repo',
        repo.url,
        '--set',
        `${VALUES}:image.tag=2.0.0`,
        '--wait',
        '--argocd-server',
        double.url,
        '--timeout',
        '20',
        '--degraded-grace',
        '0',
        '--rollback-on-failure',
        '--json'
      ],
      env()
    )
    expect(r.code, r.stderr).toBe(1)
    expect(r.json!.rollback).toMatchObject({
      rolledBack: true,
      restored: [{file: VALUES, key: 'image.tag', from: '2.0.0', to: '1.0.0'}]
    })
    expect(await repo.readFile(VALUES)).toBe('image:\n  tag: "1.0.0" # bumped by CI\n')
  })

  it('does not push a rollback over a newer commit that changed the same pin (someone fixed forward)', async () => {
    double.behave('web-staging', {outcome: 'degraded'})
    // Someone pushes 2.0.1 right after our 2.0.0, before Argo CD syncs.
    let last = await repo.head()
    let fixed = false
    following = true
    const tick = async () => {
      if (!following) return
      const head = await repo.head().catch(() => last)
      if (head !== last) {
        if (!fixed) {
          fixed = true
          last = await repo.commit(
            {[`${APP}/overlays/staging/kustomization.yaml`]: kustomization(IMAGE, '2.0.1')},
            'Deploy 2.0.1'
          )
        } else last = head
        double.pushed('main', last, {delayMs: 50})
      }
      if (following) follow = setTimeout(() => void tick(), 20)
    }
    void tick()
    const r = await setImage(['--degraded-grace', '0', '--rollback-on-failure'])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(
      /rollback: not rolled back: a newer commit changed the same pins since \(ghcr\.io\/acme\/app-0000 is now 2\.0\.1\): someone fixed forward/
    )
    expect(await repo.readFile(`${APP}/overlays/staging/kustomization.yaml`)).toContain(
      'newTag: 2.0.1'
    )
  })

  it('is refused without --wait', async () => {
    const r = await cli(pushArgs('--rollback-on-failure'), env())
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--rollback-on-failure only applies with --wait')
  })
})

describe('promote --wait', () => {
  it('promotes dev -> staging in one push and waits for the staging apps', async () => {
    await repo.commit(
      {
        '.gitops-deploy.yaml':
          'environments:\n  - name: dev\n    path: apps/{app}/overlays/dev\n  - name: staging\n    path: apps/{app}/overlays/staging\n',
        [`${APP}/overlays/dev/kustomization.yaml`]: kustomization(IMAGE, '2.0.0')
      },
      'dev at 2.0.0'
    )
    double.pushed('main', await repo.head(), {delayMs: 0})
    followPushes()
    const r = await cli(
      [
        'promote',
        '--repo',
        repo.url,
        '--mode',
        'push',
        '--from',
        'dev',
        '--to',
        'staging',
        '--wait',
        '--argocd-server',
        double.url,
        '--timeout',
        '20',
        '--json'
      ],
      env()
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.json!.outcome).toBe('pushed')
    expect(r.json!.wait.deployed).toBe(true)
    expect(r.json!.wait.apps.map((a: {name: string}) => a.name).sort()).toEqual([
      'web-all',
      'web-staging'
    ])
    for (const a of r.json!.wait.apps) expect(a.revision).toBe(r.json!.commit)
  })

  it('refuses --wait with --mode pr (the merge deploys, not this run)', async () => {
    const r = await cli(
      [
        'promote',
        '--repo',
        repo.url,
        '--from',
        'dev',
        '--to',
        'staging',
        '--wait',
        '--argocd-server',
        double.url
      ],
      {...env(), GITOPS_TOKEN: 'x'}
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--wait applies to --mode push')
  })
})

describe('wait (another job pushed)', () => {
  const waitArgs = (commit: string, extra: string[] = []) => [
    'wait',
    '--repo',
    repo.url,
    '--commit',
    commit,
    '--argocd-server',
    double.url,
    '--timeout',
    '20',
    ...extra
  ]

  it('accepts a later commit on the branch: a foreign push landed before Argo CD synced', async () => {
    const ours = await repo.commit(
      {[`${APP}/overlays/staging/kustomization.yaml`]: kustomization(IMAGE, '2.0.0')},
      'ours'
    )
    const theirs = await repo.commit(
      {[`${APP}/overlays/dev/kustomization.yaml`]: kustomization(IMAGE, '3.0.0')},
      'theirs'
    )
    double.pushed('main', theirs, {delayMs: 100})
    const r = await cli(
      waitArgs(ours, ['--path', `${APP}/overlays/staging/kustomization.yaml`, '--json']),
      env()
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.json!.deployed).toBe(true)
    for (const a of r.json!.apps) expect(a.revision).toBe(theirs)
  })

  it('takes the commit, files and branch from the outputs of the job before (GITOPS_COMMIT/FILES/BRANCH)', async () => {
    const ours = await repo.commit(
      {[`${APP}/overlays/staging/kustomization.yaml`]: kustomization(IMAGE, '2.0.0')},
      'ours'
    )
    double.pushed('main', ours, {delayMs: 50})
    const r = await cli(
      ['wait', '--repo', repo.url, '--argocd-server', double.url, '--timeout', '20'],
      {
        ...env(),
        GITOPS_COMMIT: ours,
        GITOPS_FILES: JSON.stringify([`${APP}/overlays/staging/kustomization.yaml`]),
        GITOPS_BRANCH: 'main'
      }
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/web-staging: deployed/)
  })

  it('does not accept a revision that is not a descendant of the commit', async () => {
    const base = await repo.head()
    const ours = await repo.commit(
      {[`${APP}/overlays/staging/kustomization.yaml`]: kustomization(IMAGE, '2.0.0')},
      'ours'
    )
    // Argo CD still runs the commit before ours (the branch was not seen moving).
    double.branchHeads.set('main', base)
    const r = await cli(
      waitArgs(ours, [
        '--path',
        `${APP}/overlays/staging`,
        '--argocd-app',
        'web-staging',
        '--timeout',
        '2'
      ]),
      env()
    )
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/web-staging: TIMED OUT/)
  })

  it('exits 2 listing what it looked at when no app deploys the change', async () => {
    const r = await cli(waitArgs('a'.repeat(40), ['--path', 'apps/other/overlays/dev']), env())
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('no Argo CD application deploys the change')
    expect(r.stderr).toContain('web-release: tracks release, not main')
    expect(r.stderr).toContain('web-pinned: pinned to v1.0.0')
    expect(r.stderr).toContain(
      `web-prod: path ${APP}/overlays/prod holds none of the changed files`
    )
  })

  it('finds apps registered under another spelling of the repo URL', async () => {
    const ours = await repo.commit(
      {[`${APP}/overlays/staging/kustomization.yaml`]: kustomization(IMAGE, '2.0.0')},
      'ours'
    )
    double.pushed('main', ours, {delayMs: 50})
    const r = await cli(
      [
        'wait',
        '--repo',
        `${repo.url}/`,
        '--commit',
        ours,
        '--path',
        `${APP}/overlays/staging`,
        '--argocd-server',
        double.url,
        '--timeout',
        '20',
        '--json'
      ],
      env()
    )
    expect(r.code, r.stderr).toBe(0)
    // The server's exact-match filter found nothing, so the whole list was matched by normalised URL.
    expect(double.calls('GET', '/api/v1/applications').map(c => c.query.repo)).toEqual([
      `${repo.url}/`,
      undefined
    ])
    expect(r.json!.apps.map((a: {name: string}) => a.name).sort()).toEqual([
      'web-all',
      'web-staging'
    ])
  })

  it('a dead Argo CD server exits 1 naming the server and the fix; a token without list rights is told so', async () => {
    const ours = await repo.commit(
      {[`${APP}/overlays/staging/kustomization.yaml`]: kustomization(IMAGE, '2.0.0')},
      'ours'
    )
    const dead = 'http://127.0.0.1:9'
    const r = await cli(
      [
        'wait',
        '--repo',
        repo.url,
        '--commit',
        ours,
        '--path',
        `${APP}/overlays/staging`,
        '--argocd-server',
        dead,
        '--timeout',
        '20'
      ],
      {...env(), GITOPS_ARGOCD_RETRY_MS: '5'}
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      'cannot reach Argo CD at http://127.0.0.1:9 (ECONNREFUSED); check --argocd-server and that the server is up'
    )
    // A token that may read no app sees an empty list: said as such, with the RBAC fix.
    const blind = double.token('blind', [{action: 'get', object: 'other/*'}])
    const none = await cli(
      [
        'wait',
        '--repo',
        repo.url,
        '--commit',
        ours,
        '--path',
        `${APP}/overlays/staging`,
        '--argocd-server',
        double.url,
        '--timeout',
        '20'
      ],
      {ARGOCD_AUTH_TOKEN: blind}
    )
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('no Argo CD application is visible to the token at all')
    expect(none.stderr).toContain("'applications, get'")
  })

  it('bad input exits 2 with the fix: a short SHA, no paths, a path outside the repo', async () => {
    const short = await cli(waitArgs('abc123', ['--path', 'x']), env())
    expect(short.code).toBe(2)
    expect(short.stderr).toContain("--commit 'abc123' is not a full 40-character commit SHA")
    const none = await cli(waitArgs('a'.repeat(40)), env())
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('--path is required to find the apps')
    const outside = await cli(waitArgs('a'.repeat(40), ['--path', '../x']), env())
    expect(outside.code).toBe(2)
  })
})
