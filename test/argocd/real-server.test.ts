import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {ArgoCdDouble, IN_CLUSTER} from '../doubles/argocd-double.js'
import {baseArgs, cli, REPO, SHA1, SHA2, startDouble} from './helpers.js'

/**
 * argo-upsert against the behaviours of the real Argo CD server that decide a
 * deploy's outcome (issue 11; ../shared/reference/argocd-server-behaviour.md):
 * each test switches on one behaviour of the double.
 */

let double: ArgoCdDouble
let token: string
let env: Record<string, string>

beforeEach(async () => {
  ;({double, token} = await startDouble())
  env = {ARGOCD_AUTH_TOKEN: token}
})

afterEach(async () => {
  await double.close()
  expect(double.violations).toEqual([])
})

/** Deployed at `revision` with exactly what baseArgs() describes (so a run with baseArgs is `unchanged`). */
function seedPlain(
  opts: {revision?: string; automated?: boolean; labels?: Record<string, string>} = {}
) {
  return double.seed(
    {
      metadata: {
        name: 'web',
        finalizers: ['resources-finalizer.argocd.argoproj.io'],
        ...(opts.labels ? {labels: opts.labels} : {})
      },
      spec: {
        project: 'shop',
        destination: {server: IN_CLUSTER, namespace: 'shop-dev'},
        source: {repoURL: REPO, path: 'overlays/dev', targetRevision: opts.revision ?? SHA1},
        ...(opts.automated ? {syncPolicy: {automated: {}}} : {}),
        ignoreDifferences: [{group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas']}]
      }
    },
    {deployed: true}
  )
}

describe('1. stale watch snapshots', () => {
  it('a lagging informer that replays the previous failed sync of the same spec does not fail a re-run', async () => {
    seedPlain()
    // The last run failed for this very spec (e.g. a webhook that was down); the job is re-run.
    double.mutate('web', app => {
      Object.assign(app.status.operationState, {
        phase: 'Failed',
        message: 'old failure from the previous run'
      })
      app.status.sync.status = 'OutOfSync'
    })
    double.informerLag = true
    // Slow enough that the stream opens before the operation starts: its first event is the pre-sync state.
    double.stepMs = 150
    const run = await cli(baseArgs(double, ['--sync', '--wait', '--json']), env)
    expect(run.json).toMatchObject({
      operation: 'unchanged',
      sync: {kind: 'triggered'},
      wait: {kind: 'done'},
      syncStatus: 'Synced',
      healthStatus: 'Healthy'
    })
    expect(run.code).toBe(0)
    expect(run.stderr).not.toContain('old failure')
    // The stream is opened from the resourceVersion of the sync answer.
    const [sync] = double.calls('POST', '/api/v1/applications/web/sync')
    expect(sync.status).toBe(200)
    const [stream] = double.calls('GET', '/api/v1/stream/applications')
    expect(Number(stream.query.resourceVersion)).toBeGreaterThan(100)
  })
})

describe('2. the validating write', () => {
  it('a write slower than --request-timeout is re-read, not repeated, and the error names both fixes', async () => {
    double.slowValidateMs = 1500
    const run = await cli(baseArgs(double, ['--request-timeout', '1']), env)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('no answer within 1s (--request-timeout)')
    expect(run.stderr).toMatch(/re-read and the write had not landed, so it was not repeated/)
    expect(run.stderr).toContain('--validate=false')
    expect(run.stderr).not.toContain('cannot reach Argo CD')
    expect(double.calls('POST', '/api/v1/applications')).toHaveLength(1)
    expect(double.get('web')).toBeUndefined()
  })

  it('the default limit outlasts a slow render; --validate=false skips the render', async () => {
    double.slowValidateMs = 1200
    const slow = await cli(baseArgs(double, ['--json']), env)
    expect(slow.code).toBe(0)
    expect(slow.json!.operation).toBe('created')
    expect(double.calls('POST', '/api/v1/applications')).toHaveLength(1)

    const fast = await cli(
      baseArgs(double, ['--app', 'web2', '--request-timeout', '1', '--validate=false']),
      env
    )
    expect(fast.code).toBe(0)
    expect(double.calls('POST', '/api/v1/applications')[1].query).toEqual({validate: 'false'})
  })

  it('a write whose answer was lost is re-read before it is sent again', async () => {
    double.faults.push({method: 'POST', path: '/api/v1/applications', reply: 'reset', times: 1})
    const run = await cli(baseArgs(double), env)
    expect(run.code).toBe(0)
    expect(run.stderr).toContain("the write's outcome is unknown; reading application web")
    const order = double.requests.map(r => `${r.method} ${r.path}`)
    const first = order.indexOf('POST /api/v1/applications')
    const second = order.lastIndexOf('POST /api/v1/applications')
    expect(second).toBeGreaterThan(first)
    expect(order.slice(first + 1, second)).toContain('GET /api/v1/applications/web')
  })

  it('a render failure at write time (400/3 InvalidSpecError) is reported as a manifest or plugin problem', async () => {
    double.renderError =
      'plugin sidecar failed. error generating manifests in cmp: exit status 1: Error: Replace: could not find secret shop-vault'
    const run = await cli(baseArgs(double), env)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('could not render the manifests')
    expect(run.stderr).toContain('not the flags')
    expect(run.stderr).toContain('Replace: could not find secret shop-vault')
    expect(run.stderr).toContain('--validate=false')
    expect(run.stderr).not.toContain('fix the application spec flags')
    expect(double.calls('POST', '/api/v1/applications')).toHaveLength(1)
  })
})

describe('3. a 403 on the first read', () => {
  it('an existing app the token may not get is not clobbered: nothing is written and get is named', async () => {
    seedPlain({labels: {team: 'shop'}})
    const writer = double.token('writer', [
      {action: 'create', object: 'shop/*'},
      {action: 'update', object: 'shop/*'},
      {action: 'sync', object: 'shop/*'}
    ])
    const run = await cli(baseArgs(double, ['--revision', SHA2]), {ARGOCD_AUTH_TOKEN: writer})
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('exists but the token may not read it')
    expect(run.stderr).toContain("'applications, get, shop/web'")
    expect(double.calls('POST', '/api/v1/applications')).toHaveLength(0)
    // Bare 403 with ?project= for an app that exists: not 404, so not absent.
    const reads = double.calls('GET', '/api/v1/applications/web')
    expect(reads.map(r => [r.query.project, r.status])).toEqual([
      [undefined, 403],
      ['shop', 403]
    ])
    const live = double.get('web')!
    expect(live.metadata.finalizers).toEqual(['resources-finalizer.argocd.argoproj.io'])
    expect(live.spec.ignoreDifferences).toHaveLength(1)
    expect(live.spec.source.targetRevision).toBe(SHA1)
  })

  it('an app in another project the token cannot read is refused by the create, not overwritten', async () => {
    double.addProject('legacy')
    double.seed({
      metadata: {name: 'web'},
      spec: {
        project: 'legacy',
        destination: {server: IN_CLUSTER, namespace: 'shop-dev'},
        source: {repoURL: REPO, path: 'x'}
      }
    })
    const run = await cli(baseArgs(double), env)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('exists but the token may not read it')
    const [create] = double.calls('POST', '/api/v1/applications')
    expect(create.query.upsert).toBeUndefined()
    expect(double.get('web')!.spec.project).toBe('legacy')
  })
})

describe('4. deterministic refusals (code 2 / HTTP 500)', () => {
  it('an app namespace that is not enabled fails at once with the setting to change', async () => {
    double.enabledNamespaces = []
    const run = await cli(baseArgs(double, ['--app-namespace', 'team-shop']), env)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("namespace 'team-shop' is not permitted")
    expect(run.stderr).toContain('application.namespaces in argocd-cmd-params-cm')
    expect(run.stderr).toContain('spec.sourceNamespaces')
    expect(run.stderr).not.toContain('try again later')
    expect(double.calls('POST', '/api/v1/applications')).toHaveLength(1)
  })

  it('an unreachable destination cluster during validation is named, not retried', async () => {
    double.unreachableClusters.add(IN_CLUSTER)
    const run = await cli(baseArgs(double), env)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('cannot reach the destination cluster')
    expect(run.stderr).not.toMatch(/retrying in/)
    expect(double.calls('POST', '/api/v1/applications')).toHaveLength(1)
  })

  it('a 500 from a proxy (no gRPC code) is still retried', async () => {
    double.faults.push({
      method: 'GET',
      path: '/api/v1/applications/web',
      reply: {status: 502, body: 'Bad Gateway'},
      times: 1
    })
    const run = await cli(baseArgs(double), env)
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/retrying in \d+ ms/)
  })
})

describe('5. resources that require pruning', () => {
  it('a manual sync that leaves resources needing pruning fails at once, naming them and the fix', async () => {
    seedPlain()
    double.behave('web', {outcome: 'healthy', orphans: [{kind: 'ConfigMap', name: 'old'}]})
    const run = await cli(
      baseArgs(double, ['--revision', SHA2, '--sync', '--wait', '--timeout', '20', '--json']),
      env
    )
    expect(run.code).toBe(1)
    expect(run.json!.wait.kind).toBe('failed')
    expect(run.json!.wait.reason).toMatch(
      /^1 resource requires pruning: ConfigMap\/shop-dev\/old; sync with pruning \(--prune\)/
    )
  })

  it('--prune syncs with pruning, and a pruned resource is not listed as not ready', async () => {
    seedPlain()
    double.behave('web', {outcome: 'healthy', orphans: [{kind: 'ConfigMap', name: 'old'}]})
    const run = await cli(
      baseArgs(double, ['--revision', SHA2, '--sync', '--prune', '--wait', '--json']),
      env
    )
    expect(run.code).toBe(0)
    expect(double.calls('POST', '/api/v1/applications/web/sync')[0].body).toEqual({
      name: 'web',
      prune: true
    })
    expect(double.get('web')!.status.operationState.syncResult.resources).toContainEqual(
      expect.objectContaining({kind: 'ConfigMap', status: 'Pruned'})
    )
    expect(run.stderr).not.toContain('ConfigMap/shop-dev/old (Pruned)')
  })
})

describe('6. hints that point the right way', () => {
  it('a sync window 403 says sync window, not RBAC', async () => {
    double.syncWindowClosed = true
    const run = await cli(baseArgs(double, ['--sync']), env)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('cannot sync: blocked by sync window')
    expect(run.stderr).toContain('a sync window of the app')
    expect(run.stderr).not.toContain('check that the app exists')
  })

  it("a destination the project does not allow points at the project's destinations", async () => {
    const run = await cli(baseArgs(double, ['--dest-namespace', 'payments']), env)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('do not match any of the allowed destinations')
    expect(run.stderr).toContain("add it to the project's sourceRepos or destinations")
    expect(run.stderr).not.toContain('must be registered')
  })

  it("an app namespace the project does not list names the project's sourceNamespaces", async () => {
    double.addProject('tight', {sourceNamespaces: []})
    const run = await cli(
      baseArgs(double, ['--project', 'tight', '--app-namespace', 'team-shop']),
      {ARGOCD_AUTH_TOKEN: double.token('admin')}
    )
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('app is not allowed in project "tight"')
    expect(run.stderr).toContain('spec.sourceNamespaces')
  })
})

describe('7. health that is done but not Healthy', () => {
  it('--accept-health Suspended ends the wait on a paused rollout', async () => {
    double.behave('web', {outcome: 'suspended'})
    const run = await cli(
      baseArgs(double, ['--sync', '--wait', '--accept-health', 'Suspended', '--json']),
      env
    )
    expect(run.code).toBe(0)
    expect(run.json).toMatchObject({wait: {kind: 'done'}, healthStatus: 'Suspended'})
  })

  it('a transient Degraded during the rollout is within --degraded-grace', async () => {
    double.behave('web', {outcome: 'flapping', flapMs: 300})
    const run = await cli(baseArgs(double, ['--sync', '--wait', '--json']), env)
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/health Degraded, failing unless it recovers within \d+s/)
    expect(run.json).toMatchObject({wait: {kind: 'done'}, healthStatus: 'Healthy'})
  })

  it("the previous revision's Degraded is not judged before the controller reconciles after our sync", async () => {
    seedPlain()
    double.mutate('web', app => {
      app.status.health = {status: 'Degraded', message: 'old revision crashed'}
    })
    double.behave('web', {outcome: 'healthy', healthLag: true, reconcileMs: 200})
    const run = await cli(
      baseArgs(double, ['--revision', SHA2, '--sync', '--wait', '--degraded-grace', '0', '--json']),
      env
    )
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('waiting for the controller to reconcile after the sync')
    expect(run.json).toMatchObject({wait: {kind: 'done'}, healthStatus: 'Healthy', revision: SHA2})
  })

  it('refuses an --accept-health value it does not know', async () => {
    const run = await cli(baseArgs(double, ['--accept-health', 'Progressing']), env)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("--accept-health 'Progressing' is not accepted")
    expect(double.requests).toHaveLength(0)
  })
})

describe('8. removing labels and annotations', () => {
  it('--label key- removes the key through PUT, which replaces labels', async () => {
    seedPlain({labels: {team: 'shop', 'stale-marker': 'x'}})
    const run = await cli(
      baseArgs(double, ['--label', 'stale-marker-', '--label', 'env=dev', '--json']),
      env
    )
    expect(run.code).toBe(0)
    expect(run.json!.operation).toBe('updated')
    expect(run.json!.changes).toContainEqual({path: 'metadata.labels.stale-marker', before: 'x'})
    expect(double.calls('POST', '/api/v1/applications')).toHaveLength(0)
    const [put] = double.calls('PUT', '/api/v1/applications/web')
    expect(put.query).toEqual({validate: 'true', project: 'shop'})
    const live = double.get('web')!
    expect(live.metadata.labels).toEqual({team: 'shop', env: 'dev'})
    expect(live.metadata.finalizers).toEqual(['resources-finalizer.argocd.argoproj.io'])
  })

  it('refuses setting and removing the same key', async () => {
    const run = await cli(baseArgs(double, ['--label', 'a=1', '--label', 'a-']), env)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("--label sets and removes 'a'")
  })
})

describe('9. branch revisions', () => {
  it('asks for a normal refresh before waiting, so the moved branch is what is judged', async () => {
    double.branchHeads.set('main', SHA1)
    seedPlain({revision: 'main', automated: true})
    // The branch moves; without a refresh the app still shows SHA1 Synced/Healthy.
    double.branchHeads.set('main', SHA2)
    const run = await cli(
      baseArgs(double, ['--revision', 'main', '--sync-policy', 'automated', '--wait', '--json']),
      env
    )
    expect(run.code).toBe(0)
    expect(run.json).toMatchObject({operation: 'unchanged', wait: {kind: 'done'}, revision: SHA2})
    expect(
      double.calls('GET', '/api/v1/applications/web').filter(r => r.query.refresh === 'normal')
    ).toHaveLength(1)
  })
})

describe('10. multi-source and source-hydrator apps', () => {
  it('refuses to overwrite spec.sources unless --replace-sources is given', async () => {
    double.seed({
      metadata: {name: 'web'},
      spec: {
        project: 'shop',
        destination: {server: IN_CLUSTER, namespace: 'shop-dev'},
        sources: [
          {repoURL: REPO, path: 'overlays/dev', targetRevision: SHA1},
          {repoURL: REPO, path: 'values', targetRevision: SHA1, ref: 'values'}
        ]
      }
    })
    const refused = await cli(baseArgs(double), env)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/uses spec\.sources \(2 sources\).*--replace-sources/)
    expect(double.calls('POST', '/api/v1/applications')).toHaveLength(0)

    const replaced = await cli(baseArgs(double, ['--replace-sources']), env)
    expect(replaced.code).toBe(0)
    const live = double.get('web')!
    expect(live.spec.sources).toBeUndefined()
    expect(live.spec.source.path).toBe('overlays/dev')
  })

  it('refuses a source-hydrator app', async () => {
    double.seed({
      metadata: {name: 'web'},
      spec: {
        project: 'shop',
        destination: {server: IN_CLUSTER, namespace: 'shop-dev'},
        sourceHydrator: {
          drySource: {repoURL: REPO, path: 'dry', targetRevision: 'main'},
          syncSource: {targetBranch: 'env/dev', path: 'dev'}
        }
      }
    })
    const run = await cli(baseArgs(double), env)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('uses spec.sourceHydrator')
  })
})

describe('issue 17: limits and odd answers', () => {
  it('a --timeout beyond what a timer can hold is refused with a clear error', async () => {
    const run = await cli(baseArgs(double, ['--timeout', '3000000']), env)
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^error: --timeout '3000000' is longer than 2147483s/m)
    expect(run.stderr).not.toContain('TimeoutOverflowWarning')
    expect(double.requests).toHaveLength(0)
  })

  for (const raw of ['null', '[]', '{"metadata":null,"spec":{}}']) {
    it(`a 200 answer without an Application (${raw}) is an error with a cause and a fix`, async () => {
      double.faults.push({
        method: 'GET',
        path: '/api/v1/applications/web',
        reply: {status: 200, raw},
        times: 1
      })
      const run = await cli(baseArgs(double), env)
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(
        /error: reading application web failed: Argo CD answered 2xx without an Application \(.+\); check --server/
      )
      expect(run.stderr).not.toMatch(/TypeError|Cannot read properties/)
    })
  }

  it('--wait without --sync on a manual-sync app fails before writing, suggesting --sync', async () => {
    const run = await cli(baseArgs(double, ['--wait', '--timeout', '3']), env)
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/nothing would start a sync.*add --sync/)
    expect(double.calls('POST', '/api/v1/applications')).toHaveLength(0)
  })
})
