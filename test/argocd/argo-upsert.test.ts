import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {ArgoCdDouble, IN_CLUSTER, shaOf} from '../doubles/argocd-double.js'
import {AVP, baseArgs, cli, REPO, SHA1, SHA2, startDouble} from './helpers.js'

let double: ArgoCdDouble
let token: string
let env: Record<string, string>

beforeEach(async () => {
  ;({double, token} = await startDouble())
  env = {ARGOCD_AUTH_TOKEN: token}
})

afterEach(async () => {
  await double.close()
  // Every request the client made, and every answer the double gave, matched the API description.
  expect(double.violations).toEqual([])
})

function expectNoToken(run: {stdout: string; stderr: string}): void {
  expect(run.stdout).not.toContain(token)
  expect(run.stderr).not.toContain(token)
  expect(run.stderr + run.stdout).not.toContain(token.split('.')[2])
}

/** An app that was deployed at SHA1 with tag 1.0 and is Synced/Healthy. */
function seedDeployed(
  extra: {
    labels?: Record<string, string>
    finalizers?: string[]
    annotations?: Record<string, string>
  } = {}
) {
  return double.seed(
    {
      metadata: {name: 'web', ...extra},
      spec: {
        project: 'shop',
        destination: {server: IN_CLUSTER, namespace: 'shop-dev'},
        source: {
          repoURL: REPO,
          path: 'overlays/dev',
          targetRevision: SHA1,
          plugin: {
            name: 'argocd-vault-plugin-kustomize',
            env: [
              {name: 'AVP_SECRET', value: 'shop-vault'},
              {name: 'APP_REPO', value: REPO},
              {name: 'IMAGE_NAME', value: 'registry.example.com/shop/web'},
              {name: 'IMAGE_TAG', value: '1.0.0'}
            ]
          }
        },
        syncPolicy: {automated: {}, syncOptions: ['ServerSideApply=true']},
        ignoreDifferences: [{group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas']}]
      }
    },
    {deployed: true}
  )
}

/** The flags that describe seedDeployed's app exactly (what `unchanged` needs). */
const MATCHES_DEPLOYED = [
  ...AVP,
  '--plugin-env',
  'IMAGE_TAG=1.0.0',
  '--sync-option',
  'ServerSideApply=true'
]

describe('argo-upsert: writing the Application', () => {
  it('creates the app with the exact request shape the server requires', async () => {
    const run = await cli(
      baseArgs(double, [
        ...AVP,
        '--plugin-env',
        'IMAGE_TAG=1.0.0',
        '--sync-policy',
        'automated',
        '--json'
      ]),
      env
    )
    expect(run.stderr).toContain('application web created')
    expect(run.code).toBe(0)
    expect(run.json).toMatchObject({
      operation: 'created',
      url: `${double.url}/applications/argocd/web`
    })
    const [create] = double.calls('POST', '/api/v1/applications')
    // Shown absent (404 with ?project=): a plain create, so an app that exists after all is refused, not overwritten.
    expect(create.query).toEqual({validate: 'true'})
    expect(create.headers['content-type']).toBe('application/json')
    expect(create.headers.authorization).toBe(`Bearer ${token}`)
    expect(create.headers.accept).toBe('application/json')
    expect(create.body).toEqual({
      metadata: {name: 'web'},
      spec: {
        project: 'shop',
        destination: {server: IN_CLUSTER, namespace: 'shop-dev'},
        source: {
          repoURL: REPO,
          path: 'overlays/dev',
          targetRevision: SHA1,
          plugin: {
            name: 'argocd-vault-plugin-kustomize',
            env: [
              {name: 'AVP_SECRET', value: 'shop-vault'},
              {name: 'APP_REPO', value: REPO},
              {name: 'IMAGE_NAME', value: 'registry.example.com/shop/web'},
              {name: 'IMAGE_TAG', value: '1.0.0'}
            ]
          }
        },
        syncPolicy: {automated: {}}
      }
    })
    // A missing app answers 403 without a project (CVE-2022-41354); asked again with ?project=, 404 proves absence.
    const reads = double.calls('GET', '/api/v1/applications/web')
    expect(reads[0]).toMatchObject({status: 403, code: 7, query: {}})
    expect(reads[1]).toMatchObject({status: 404, code: 5, query: {project: 'shop'}})
    expectNoToken(run)
  })

  it('sends plugin env names unprefixed, even when given with ARGOCD_ENV_', async () => {
    const run = await cli(
      baseArgs(double, [...AVP, '--plugin-env', 'ARGOCD_ENV_IMAGE_TAG=2.0.0']),
      env
    )
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('sending IMAGE_TAG')
    const env0 = double.calls('POST', '/api/v1/applications')[0].body!.spec.source.plugin.env
    expect(env0).toContainEqual({name: 'IMAGE_TAG', value: '2.0.0'})
    expect(env0.every((e: {name: string}) => !e.name.startsWith('ARGOCD_ENV_'))).toBe(true)
  })

  it('splits --sync-option on commas and sends a list', async () => {
    const run = await cli(
      baseArgs(double, [
        '--sync-option',
        'ApplyOutOfSyncOnly=true,ServerSideApply=true',
        '--sync-option',
        'CreateNamespace=true'
      ]),
      env
    )
    expect(run.code).toBe(0)
    expect(double.calls('POST', '/api/v1/applications')[0].body!.spec.syncPolicy).toEqual({
      syncOptions: ['ApplyOutOfSyncOnly=true', 'ServerSideApply=true', 'CreateNamespace=true']
    })
  })

  it('updates: keeps labels, annotations, finalizers and unflagged spec fields, and names what it overwrote', async () => {
    seedDeployed({
      labels: {team: 'shop'},
      annotations: {'notifications.argoproj.io/subscribe.on-sync-succeeded.slack': 'shop'},
      finalizers: ['resources-finalizer.argocd.argoproj.io']
    })
    const run = await cli(
      baseArgs(double, [
        ...AVP,
        '--plugin-env',
        'IMAGE_TAG=1.1.0',
        '--revision',
        SHA2,
        '--label',
        'env=dev',
        '--json'
      ]),
      env
    )
    expect(run.code).toBe(0)
    expect(run.json!.operation).toBe('updated')
    const paths = run.json!.changes.map((c: {path: string}) => c.path)
    expect(paths).toEqual(
      expect.arrayContaining([
        'metadata.labels.env',
        'spec.source.plugin.env[IMAGE_TAG]',
        'spec.source.targetRevision'
      ])
    )
    // The live app's auto-sync, sync options and ignoreDifferences are not in the flags and survive.
    expect(
      paths.some(
        (p: string) => p.startsWith('spec.syncPolicy') || p.startsWith('spec.ignoreDifferences')
      )
    ).toBe(false)
    const live = double.get('web')!
    expect(live.metadata.labels).toEqual({team: 'shop', env: 'dev'})
    expect(live.metadata.finalizers).toEqual(['resources-finalizer.argocd.argoproj.io'])
    expect(live.metadata.annotations).toHaveProperty([
      'notifications.argoproj.io/subscribe.on-sync-succeeded.slack'
    ])
    expect(live.spec.ignoreDifferences).toHaveLength(1)
    expect(live.spec.syncPolicy).toEqual({automated: {}, syncOptions: ['ServerSideApply=true']})
    expect(live.spec.source.plugin.env).toContainEqual({name: 'IMAGE_TAG', value: '1.1.0'})

    const text = await cli(
      baseArgs(double, [...AVP, '--plugin-env', 'IMAGE_TAG=1.2.0', '--revision', SHA2]),
      env
    )
    expect(text.stdout).toContain('application web updated (project shop)')
    expect(text.stdout).toContain('overwrote spec.source.plugin.env[IMAGE_TAG]: 1.1.0 -> 1.2.0')
  })

  it('reports unchanged and writes nothing when the live app already matches', async () => {
    seedDeployed()
    const run = await cli(baseArgs(double, [...MATCHES_DEPLOYED, '--json']), env)
    expect(run.code).toBe(0)
    expect(run.json).toMatchObject({
      operation: 'unchanged',
      syncStatus: 'Synced',
      healthStatus: 'Healthy',
      revision: SHA1,
      changes: []
    })
    expect(double.calls('POST', '/api/v1/applications')).toHaveLength(0)
  })

  it('unchanged with --wait returns at once when the app already runs this spec healthy', async () => {
    seedDeployed()
    const run = await cli(baseArgs(double, [...MATCHES_DEPLOYED, '--wait', '--json']), env)
    expect(run.code).toBe(0)
    expect(run.json).toMatchObject({
      operation: 'unchanged',
      wait: {kind: 'done'},
      healthStatus: 'Healthy'
    })
    expect(run.stderr).not.toContain('waiting:')
  })

  it('refuses a plugin together with kustomize images before calling the server', async () => {
    const run = await cli(
      baseArgs(double, [...AVP, '--kustomize-image', 'web=registry/web:1.0']),
      env
    )
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(
      /one tool.*Plugin.*Kustomize.*--plugin-env IMAGE_NAME=\.\.\. --plugin-env IMAGE_TAG/
    )
    expect(double.requests).toHaveLength(0)
  })

  it('fails with the fix when the token has expired, and never prints it', async () => {
    const expired = double.token('ci', [{action: '*', object: '*/*'}], true)
    const run = await cli(baseArgs(double, [...AVP]), {ARGOCD_AUTH_TOKEN: expired})
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(
      /gRPC 16 Unauthenticated.*token is expired.*the token has expired.*ARGOCD_AUTH_TOKEN/
    )
    expect(run.stderr).not.toContain(expired)
    expect(double.calls('POST', '/api/v1/applications')).toHaveLength(0)
  })

  it('names the project as the fix when the project does not exist or does not allow the app', async () => {
    const run = await cli(baseArgs(double, ['--project', 'shopp']), {
      ARGOCD_AUTH_TOKEN: double.token('admin', [{action: '*', object: '*/*'}])
    })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      'creating application web failed: Argo CD answered 400 (gRPC 3 InvalidArgument)'
    )
    expect(run.stderr).toContain(
      'app is not allowed in project "shopp", or the project does not exist; check --project'
    )
    // 400 with code 3 is final: not retried.
    expect(double.calls('POST', '/api/v1/applications')).toHaveLength(1)
  })

  it('names the missing permission when the token may not create in the project', async () => {
    const reader = double.token('reader', [{action: 'get', object: 'shop/*'}])
    const run = await cli(baseArgs(double), {ARGOCD_AUTH_TOKEN: reader})
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(
      /gRPC 7 PermissionDenied.*grant the account behind ARGOCD_AUTH_TOKEN 'applications, create, shop\/web'/
    )
  })

  it('retries transient failures (503, connection reset) with backoff but not other 4xx', async () => {
    double.faults.push({
      method: 'POST',
      path: '/api/v1/applications',
      reply: {status: 503},
      times: 1
    })
    double.faults.push({method: 'POST', path: '/api/v1/applications', reply: 'reset', times: 1})
    const run = await cli(baseArgs(double), env)
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/retrying in \d+ ms \(1\/4\)/)
    expect(double.calls('POST', '/api/v1/applications').map(r => r.status)).toEqual([503, 0, 200])
  })

  it('moves an app between projects only with the right to update it in its old project', async () => {
    double.addProject('legacy')
    double.seed({
      metadata: {name: 'web'},
      spec: {
        project: 'legacy',
        destination: {server: IN_CLUSTER, namespace: 'shop-dev'},
        source: {repoURL: REPO, path: 'x'}
      }
    })
    const t = double.token('ci', [
      {action: '*', object: 'shop/*'},
      {action: 'get', object: 'legacy/*'}
    ])
    const run = await cli(baseArgs(double), {ARGOCD_AUTH_TOKEN: t})
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("is in project 'legacy'; moving it to 'shop'")
    expect(run.stderr).toContain("'applications, update, legacy/web'")
  })
})

describe('argo-upsert: sync and wait', () => {
  it('waits until Synced and Healthy on our revision, with progress', async () => {
    const run = await cli(
      baseArgs(double, [
        ...AVP,
        '--plugin-env',
        'IMAGE_TAG=1.0.0',
        '--sync-policy',
        'automated',
        '--wait',
        '--json'
      ]),
      env
    )
    expect(run.code).toBe(0)
    expect(run.json).toMatchObject({
      operation: 'created',
      syncStatus: 'Synced',
      healthStatus: 'Healthy',
      revision: SHA1,
      wait: {kind: 'done'}
    })
    expect(run.stderr).toMatch(/waiting: .*operation Running/)
    expect(run.stderr).toMatch(
      /not ready: Deployment\/shop-dev\/web \(Synced\/Progressing\): Waiting for rollout/
    )
    expectNoToken(run)
  })

  it("does not take the previous revision's Synced/Healthy state for success (stale-state trap)", async () => {
    seedDeployed()
    // A slow controller: for 150 ms after the write the app still shows the old, healthy state.
    double.behave('web', {outcome: 'healthy', reconcileMs: 150})
    const run = await cli(
      baseArgs(double, [
        ...AVP,
        '--plugin-env',
        'IMAGE_TAG=1.1.0',
        '--revision',
        SHA2,
        '--wait',
        '--json'
      ]),
      env
    )
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(
      /waiting: operation Succeeded, sync Synced, health Healthy \(Argo CD has not compared the new spec yet\)/
    )
    expect(run.json).toMatchObject({
      operation: 'updated',
      syncStatus: 'Synced',
      healthStatus: 'Healthy',
      revision: SHA2
    })
    const live = double.get('web')!
    expect(live.status.operationState.syncResult.revision).toBe(SHA2)
    expect(live.status.health.status).toBe('Healthy')
  })

  it('fails fast on Degraded health and lists the resources with their messages (exit 1)', async () => {
    double.behave('web', {outcome: 'degraded'})
    const run = await cli(
      baseArgs(double, [...AVP, '--sync-policy', 'automated', '--wait', '--degraded-grace', '0']),
      env
    )
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/^deploy of web failed: health Degraded/)
    expect(run.stdout).toContain('resources not healthy or not synced:')
    expect(run.stdout).toContain(
      'Deployment/shop-dev/web (Synced/Degraded): Deployment "web" exceeded its progress deadline'
    )
    expect(run.stdout).not.toContain('Service/')
  })

  it('fails fast on a failed sync operation with the per-resource messages', async () => {
    double.behave('web', {outcome: 'sync-fail'})
    const run = await cli(baseArgs(double, ['--sync-policy', 'automated', '--wait', '--json']), env)
    expect(run.code).toBe(1)
    expect(run.json!.wait.kind).toBe('failed')
    expect(run.json!.wait.reason).toMatch(
      /^sync operation Failed: one or more objects failed to apply/
    )
    expect(run.json!.wait.resources).toContainEqual(
      expect.objectContaining({
        kind: 'Deployment',
        name: 'web',
        message: expect.stringContaining('image tag "latest" is not allowed')
      })
    )
  })

  it('fails fast on a ComparisonError (e.g. the plugin cannot render)', async () => {
    double.behave('web', {outcome: 'comparison-error'})
    const run = await cli(baseArgs(double, [...AVP, '--sync-policy', 'automated', '--wait']), env)
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/^deploy of web failed: ComparisonError: .*plugin sidecar failed/)
  })

  it('ends at --timeout, hard, listing what was not ready', async () => {
    double.behave('web', {outcome: 'stuck'})
    const started = Date.now()
    const run = await cli(
      baseArgs(double, ['--sync-policy', 'automated', '--wait', '--timeout', '1', '--json']),
      env
    )
    expect(run.code).toBe(1)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(run.json!.wait.kind).toBe('timeout')
    expect(run.json!.wait.reason).toMatch(/timed out after 1s \(--timeout\).*health Progressing/)
    expect(run.json!.healthStatus).toBe('Progressing')
  })

  it('--sync starts a sync when no operation runs', async () => {
    const run = await cli(baseArgs(double, ['--sync', '--wait', '--json']), env)
    expect(run.code).toBe(0)
    expect(run.json).toMatchObject({
      sync: {kind: 'triggered'},
      syncStatus: 'Synced',
      healthStatus: 'Healthy'
    })
    const [sync] = double.calls('POST', '/api/v1/applications/web/sync')
    expect(sync.headers['content-type']).toBe('application/json')
    expect(sync.body).toEqual({name: 'web'})
  })

  it('--sync waits for the auto-sync already running when the server answers code 9', async () => {
    // The controller starts auto-sync right after the write, before our sync call arrives.
    double.behave('web', {outcome: 'healthy', immediateReconcile: true, operationMs: 120})
    const run = await cli(
      baseArgs(double, [...AVP, '--sync-policy', 'automated', '--sync', '--wait', '--json']),
      env
    )
    expect(run.code).toBe(0)
    const syncs = double.calls('POST', '/api/v1/applications/web/sync')
    expect(syncs).toHaveLength(1)
    expect(syncs[0]).toMatchObject({status: 400, code: 9})
    expect(run.stderr).toContain(
      'another operation is already in progress (auto-sync?); waiting for it'
    )
    expect(run.json).toMatchObject({
      sync: {kind: 'joined', phase: 'Succeeded'},
      syncStatus: 'Synced',
      healthStatus: 'Healthy'
    })
  })

  it('reconnects when the event stream drops and finishes from stream events alone', async () => {
    double.dropStreamAfter = 2
    const run = await cli(baseArgs(double, ['--sync-policy', 'automated', '--wait', '--json']), {
      ...env,
      // Polling so slow it cannot be what finishes the wait.
      GITOPS_ARGOCD_POLL_MS: '60000'
    })
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('event stream closed; reconnecting')
    const streams = double.calls('GET', '/api/v1/stream/applications')
    expect(streams.length).toBeGreaterThanOrEqual(2)
    // Opened from the resourceVersion the write answered, so older cached events are dropped by the server.
    expect(streams[0].query).toEqual({name: 'web', resourceVersion: expect.stringMatching(/^\d+$/)})
    expect(streams[0].headers.accept).toBe('text/event-stream')
    expect(run.json).toMatchObject({syncStatus: 'Synced', healthStatus: 'Healthy'})
  })

  it('falls back to polling when the stream is not routed', async () => {
    double.streamUnavailable = true
    const run = await cli(baseArgs(double, ['--sync-policy', 'automated', '--wait', '--json']), env)
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('the event stream is not available here; polling instead')
    expect(double.calls('GET', '/api/v1/applications/web').length).toBeGreaterThan(2)
    expect(run.json).toMatchObject({healthStatus: 'Healthy'})
  })

  it('supports apps in other namespaces (appNamespace on every call, namespace in the UI url)', async () => {
    const run = await cli(
      baseArgs(double, ['--app-namespace', 'team-shop', '--sync', '--wait', '--json']),
      env
    )
    expect(run.code).toBe(0)
    expect(run.json!.url).toBe(`${double.url}/applications/team-shop/web`)
    expect(double.calls('GET', '/api/v1/applications/web')[0].query).toEqual({
      appNamespace: 'team-shop'
    })
    expect(double.calls('POST', '/api/v1/applications/web/sync')[0].body).toEqual({
      name: 'web',
      appNamespace: 'team-shop'
    })
    expect(double.calls('GET', '/api/v1/stream/applications')[0].query).toEqual({
      name: 'web',
      appNamespace: 'team-shop',
      resourceVersion: expect.stringMatching(/^\d+$/)
    })
  })
})

describe('argo-upsert --rollback-on-failure', () => {
  const upgrade = (...extra: string[]) =>
    baseArgs(double, [
      ...MATCHES_DEPLOYED.slice(0, -4),
      '--plugin-env',
      'IMAGE_TAG=2.0.0',
      '--sync-option',
      'ServerSideApply=true',
      '--sync-policy',
      'automated',
      '--wait',
      '--degraded-grace',
      '0',
      '--rollback-on-failure',
      ...extra
    ]).map(a => (a === SHA1 ? SHA2 : a))

  it('writes the previous spec back when the new revision degrades, waits until it is healthy again, exits 1', async () => {
    seedDeployed()
    double.behave('web', {
      outcome: 'healthy',
      outcomeFor: rev => (rev === shaOf(SHA2) ? 'degraded' : 'healthy')
    })
    const run = await cli(upgrade('--json'), env)
    expect(run.code, run.stderr).toBe(1)
    expect(run.json!.wait.kind).toBe('failed')
    expect(run.json!.rollback).toMatchObject({
      kind: 'rolled-back',
      revision: SHA1,
      wait: {kind: 'done'}
    })
    const app = double.get('web')!
    expect(app.spec.source.targetRevision).toBe(SHA1)
    expect(app.spec.source.plugin.env).toContainEqual({name: 'IMAGE_TAG', value: '1.0.0'})
    expect(app.status.health.status).toBe('Healthy')
    expectNoToken(run)
    const text = await cli(upgrade(), env)
    expect(text.code).toBe(1)
  })

  it('does not roll back an app this run created', async () => {
    double.behave('web', {outcome: 'degraded'})
    const created = await cli(upgrade(), env)
    expect(created.code).toBe(1)
    expect(created.stdout).toContain('rollback: not rolled back: this run created the application')
  })

  it('does not write over a spec someone else wrote after this run', async () => {
    seedDeployed()
    double.behave('web', {
      outcome: 'healthy',
      outcomeFor: rev => {
        if (rev !== shaOf(SHA2)) return 'healthy'
        // Another pipeline deploys a fix while ours is still rolling out.
        setTimeout(
          () => double.mutate('web', app => (app.spec.source.targetRevision = 'hotfix')),
          0
        )
        return 'degraded'
      }
    })
    const run = await cli(upgrade('--timeout', '3'), env)
    expect(run.code).toBe(1)
    expect(run.stdout).toContain(
      'rollback: not rolled back: the application changed since this run wrote it (someone deployed again); left as it is'
    )
    expect(double.get('web')!.spec.source.targetRevision).toBe('hotfix')
  })

  it('is refused without --wait', async () => {
    const run = await cli(baseArgs(double, ['--rollback-on-failure']), env)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('--rollback-on-failure only applies with --wait')
  })
})

describe('argo-upsert: input errors (exit 2, nothing sent)', () => {
  const cases: [string, string[], Record<string, string | undefined> | undefined, RegExp][] = [
    ['no token', [], {ARGOCD_AUTH_TOKEN: undefined}, /ARGOCD_AUTH_TOKEN is not set/],
    [
      'both destinations',
      ['--dest-name', 'in-cluster'],
      undefined,
      /exactly one of --dest-server and --dest-name/
    ],
    [
      'bad sync option',
      ['--sync-option', 'ServerSideApply'],
      undefined,
      /'ServerSideApply' is not Name=value/
    ],
    ['prune without automated', ['--auto-prune'], undefined, /add --sync-policy automated/],
    [
      'plugin env without plugin',
      ['--plugin-env', 'A=1'],
      undefined,
      /--plugin-env needs --plugin/
    ],
    ['bad sync policy', ['--sync-policy', 'auto'], undefined, /use automated or none/],
    ['bad timeout', ['--timeout', 'soon'], undefined, /--timeout 'soon' is not a duration/],
    [
      'prune without sync',
      ['--prune'],
      undefined,
      /--prune applies to the sync this run starts; add --sync/
    ],
    ['bad validate', ['--validate', 'maybe'], undefined, /--validate 'maybe' is not true or false/],
    [
      'bad request timeout',
      ['--request-timeout', '0'],
      undefined,
      /--request-timeout '0' is not a duration/
    ],
    [
      'missing ca file',
      ['--ca-file', '/nonexistent/ca.pem'],
      undefined,
      /--ca-file .* cannot be read/
    ]
  ]
  for (const [label, extra, envOverride, message] of cases) {
    it(label, async () => {
      const run = await cli(baseArgs(double, extra), {...env, ...envOverride})
      expect(run.code).toBe(2)
      expect(run.stderr).toMatch(message)
      expect(double.requests).toHaveLength(0)
    })
  }

  it('the token appears nowhere, even with debug output and a stack trace', async () => {
    const reader = double.token('reader', [{action: 'get', object: 'shop/*'}])
    const run = await cli(baseArgs(double), {ARGOCD_AUTH_TOKEN: reader, GITOPS_DEBUG: '1'})
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('debug: application web not readable')
    expect(run.stderr + run.stdout).not.toContain(reader)
    expect(run.stderr + run.stdout).not.toContain(reader.split('.')[1])
  })

  it('a dead server fails with the server as the fix, after retries', async () => {
    const run = await cli(
      baseArgs(double).map(a => (a === double.url ? 'http://127.0.0.1:9' : a)),
      env
    )
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(
      /cannot reach Argo CD at http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\); check --server/
    )
  })
})

describe('the double itself', () => {
  it('rejects requests the API description does not allow (unknown field, wrong shape, unknown query)', async () => {
    const post = (query: string, body: unknown, contentType = 'application/json') =>
      fetch(`${double.url}/api/v1/applications${query}`, {
        method: 'POST',
        headers: {Authorization: `Bearer ${token}`, 'Content-Type': contentType},
        body: JSON.stringify(body)
      })
    const good = {
      metadata: {name: 'x'},
      spec: {
        project: 'shop',
        destination: {server: IN_CLUSTER, namespace: 'shop-x'},
        source: {repoURL: REPO, path: 'p'}
      }
    }
    expect(
      (
        await post('?upsert=true', {
          ...good,
          spec: {...good.spec, syncPolicy: {syncOptions: 'A=true,B=true'}}
        })
      ).status
    ).toBe(400)
    expect(
      (
        await post('?upsert=true', {
          ...good,
          spec: {...good.spec, source: {...good.spec.source, plugin: {envs: []}}}
        })
      ).status
    ).toBe(400)
    expect((await post('?force=true', good)).status).toBe(400)
    expect((await post('?upsert=yes', good)).status).toBe(400)
    expect((await post('?upsert=true', good, 'application/json; charset=utf-8')).status).toBe(415)
    expect(double.violations).toHaveLength(4)
    expect(double.violations.join('\n')).toMatch(
      /must be array[\s\S]*additional properties 'envs'[\s\S]*unknown query parameter 'force'[\s\S]*upsert=yes is not a boolean/
    )
    double.violations.length = 0
    expect((await post('?upsert=true', good)).status).toBe(200)
    expect(shaOf('main')).toHaveLength(40)
  })
})
