import {describe, expect, it} from 'vitest'
import {evaluate, type Expectation, formatProgress} from '../../src/argocd/health.js'
import type {Application, ApplicationSource} from '../../src/argocd/types.js'

const oldSource: ApplicationSource = {repoURL: 'r', path: 'p', targetRevision: 'a'.repeat(40)}
const newSource: ApplicationSource = {repoURL: 'r', path: 'p', targetRevision: 'b'.repeat(40)}
const destination = {server: 'https://kubernetes.default.svc', namespace: 'ns'}
const T0 = '2026-01-01T00:00:00Z'
const T1 = '2026-01-01T00:01:00Z'
const T2 = '2026-01-01T00:02:00Z'

const exp: Expectation = {
  source: newSource,
  destination,
  revision: 'b'.repeat(40),
  baseline: {operationStartedAt: T0, reconciledAt: T0}
}

function app(status: Application['status'], operation?: unknown): Application {
  return {
    metadata: {name: 'web'},
    spec: {project: 'p', source: newSource, destination},
    ...(operation ? {operation} : {}),
    status
  }
}

const deployment = (health: string, message?: string) => ({
  kind: 'Deployment',
  name: 'web',
  namespace: 'ns',
  status: 'Synced',
  health: {status: health, ...(message ? {message} : {})}
})

/** The app right after our write: everything about it describes the previous revision. */
const stale = (extra: Partial<NonNullable<Application['status']>> = {}) =>
  app({
    sync: {
      status: 'Synced',
      revision: 'a'.repeat(40),
      comparedTo: {source: oldSource, destination}
    },
    health: {status: 'Healthy'},
    reconciledAt: T0,
    operationState: {
      phase: 'Succeeded',
      startedAt: T0,
      finishedAt: T0,
      syncResult: {revision: 'a'.repeat(40), source: oldSource}
    },
    resources: [deployment('Healthy')],
    ...extra
  })

describe('evaluate', () => {
  it('stale trap: the previous revision Synced/Healthy is "waiting", not done', () => {
    const v = evaluate(stale(), exp)
    expect(v).toMatchObject({kind: 'waiting', reason: 'Argo CD has not compared the new spec yet'})
  })

  it('a previous failed operation or Degraded state does not fail the new deploy', () => {
    expect(
      evaluate(
        stale({
          health: {status: 'Degraded'},
          operationState: {
            phase: 'Failed',
            startedAt: T0,
            finishedAt: T0,
            syncResult: {source: oldSource}
          }
        }),
        exp
      ).kind
    ).toBe('waiting')
  })

  it('a ComparisonError is fatal only once the controller has looked at the new spec', () => {
    const conditions = [{type: 'ComparisonError', message: 'plugin sidecar failed'}]
    expect(evaluate(stale({conditions}), exp).kind).toBe('waiting')
    expect(evaluate(stale({conditions, reconciledAt: T1}), exp)).toMatchObject({
      kind: 'failed',
      reason: 'ComparisonError: plugin sidecar failed'
    })
  })

  it('compared and in sync but the revision differs: waiting for that revision', () => {
    const v = evaluate(
      app({
        sync: {
          status: 'Synced',
          revision: 'c'.repeat(40),
          comparedTo: {source: newSource, destination}
        },
        health: {status: 'Healthy'}
      }),
      exp
    )
    expect(v).toMatchObject({
      kind: 'waiting',
      reason: expect.stringContaining('waiting for revision bbbb')
    })
  })

  it('operation running: waiting, with progress naming phase, health and pending resources', () => {
    const v = evaluate(
      app(
        {
          sync: {
            status: 'OutOfSync',
            revision: 'b'.repeat(40),
            comparedTo: {source: newSource, destination}
          },
          health: {status: 'Progressing'},
          operationState: {phase: 'Running', startedAt: T1},
          resources: [
            deployment('Progressing', 'Waiting for rollout'),
            {kind: 'Service', name: 'web', status: 'Synced', health: {status: 'Healthy'}}
          ]
        },
        {sync: {}}
      ),
      exp
    )
    expect(v.kind).toBe('waiting')
    expect(formatProgress(v.progress)).toBe(
      'operation Running, sync OutOfSync, health Progressing; not ready: Deployment/ns/web (Synced/Progressing): Waiting for rollout'
    )
  })

  it('our operation failed: failed, with the per-resource sync messages', () => {
    const v = evaluate(
      app({
        sync: {
          status: 'OutOfSync',
          revision: 'b'.repeat(40),
          comparedTo: {source: newSource, destination}
        },
        operationState: {
          phase: 'Failed',
          message: 'one or more objects failed to apply',
          startedAt: T1,
          finishedAt: T2,
          syncResult: {
            source: newSource,
            resources: [
              {
                kind: 'Deployment',
                name: 'web',
                namespace: 'ns',
                status: 'SyncFailed',
                message: 'denied'
              }
            ]
          }
        }
      }),
      exp
    )
    expect(v).toMatchObject({
      kind: 'failed',
      reason: 'sync operation Failed: one or more objects failed to apply',
      resources: [{kind: 'Deployment', name: 'web', sync: 'SyncFailed', message: 'denied'}]
    })
  })

  it('Degraded after our sync: failed with the unhealthy resources only', () => {
    const v = evaluate(
      app({
        sync: {
          status: 'Synced',
          revision: 'b'.repeat(40),
          comparedTo: {source: newSource, destination}
        },
        health: {status: 'Degraded'},
        reconciledAt: T2,
        operationState: {
          phase: 'Succeeded',
          startedAt: T1,
          finishedAt: T1,
          syncResult: {source: newSource, revision: 'b'.repeat(40)}
        },
        resources: [
          deployment('Degraded', 'exceeded its progress deadline'),
          {kind: 'Service', name: 'web', status: 'Synced', health: {status: 'Healthy'}}
        ]
      }),
      exp
    )
    expect(v).toMatchObject({kind: 'failed', reason: 'health Degraded'})
    expect(v.kind === 'failed' && v.resources).toEqual([
      {
        kind: 'Deployment',
        name: 'web',
        namespace: 'ns',
        sync: 'Synced',
        health: 'Degraded',
        message: 'exceeded its progress deadline'
      }
    ])
  })

  it('done only with our spec and revision, Synced, Healthy, no operation, reconciled after the sync', () => {
    const done = {
      sync: {
        status: 'Synced',
        revision: 'b'.repeat(40),
        comparedTo: {source: newSource, destination}
      },
      health: {status: 'Healthy'},
      reconciledAt: T2,
      operationState: {
        phase: 'Succeeded',
        startedAt: T1,
        finishedAt: T2,
        syncResult: {source: newSource, revision: 'b'.repeat(40)}
      }
    }
    expect(evaluate(app(done), exp).kind).toBe('done')
    expect(evaluate(app(done, {sync: {}}), exp).kind).toBe('waiting')
    expect(evaluate(app({...done, reconciledAt: T1}), exp)).toMatchObject({
      kind: 'waiting',
      reason: expect.stringContaining('reconcile')
    })
    expect(evaluate(app({...done, health: {status: 'Progressing'}}), exp)).toMatchObject({
      kind: 'waiting',
      reason: 'health Progressing'
    })
    // A branch revision can't be checked locally; comparedTo still must be ours.
    expect(evaluate(app(done), {...exp, revision: undefined}).kind).toBe('done')
  })

  /** Our spec compared, Synced at our revision, an operation finished at T2 and reconciled at T2. */
  const after = (extra: Partial<NonNullable<Application['status']>> = {}) =>
    app({
      sync: {
        status: 'Synced',
        revision: 'b'.repeat(40),
        comparedTo: {source: newSource, destination}
      },
      health: {status: 'Healthy'},
      reconciledAt: T2,
      operationState: {
        phase: 'Succeeded',
        startedAt: T1,
        finishedAt: T2,
        syncResult: {source: newSource, revision: 'b'.repeat(40)}
      },
      ...extra
    })

  it('after a sync we requested, the previous operation for the same spec is not ours (re-run after a failure)', () => {
    const previous = after({
      sync: {
        status: 'OutOfSync',
        revision: 'b'.repeat(40),
        comparedTo: {source: newSource, destination}
      },
      operationState: {
        phase: 'Failed',
        message: 'old failure',
        startedAt: T1,
        finishedAt: T1,
        syncResult: {source: newSource, revision: 'b'.repeat(40)}
      }
    })
    const ours: Expectation = {...exp, ownOperation: true, baseline: {operationStartedAt: T1}}
    expect(evaluate(previous, ours)).toMatchObject({kind: 'waiting'})
    // Without a sync of ours, an operation that synced this spec is the app's last word.
    expect(evaluate(previous, {...exp, baseline: {operationStartedAt: T1}})).toMatchObject({
      kind: 'failed',
      cause: 'operation'
    })
    // Synced/Healthy but still the previous operation: not done until ours shows.
    expect(
      evaluate(
        after({operationState: {...previous.status!.operationState!, phase: 'Succeeded'}}),
        ours
      )
    ).toMatchObject({
      kind: 'waiting',
      reason: 'waiting for our sync operation to show'
    })
  })

  it('Degraded is judged only after the controller reconciled after the operation', () => {
    const degraded = {health: {status: 'Degraded', message: 'old pods crash'}}
    expect(evaluate(after({...degraded, reconciledAt: T1}), exp)).toMatchObject({
      kind: 'waiting',
      reason: 'waiting for the controller to reconcile after the sync'
    })
    expect(evaluate(after(degraded), exp)).toMatchObject({kind: 'failed', cause: 'degraded'})
    expect(evaluate(after(degraded), {...exp, acceptHealth: ['Degraded']}).kind).toBe('done')
  })

  it('Suspended is done only when accepted', () => {
    const suspended = after({health: {status: 'Suspended'}})
    expect(evaluate(suspended, exp)).toMatchObject({kind: 'waiting', reason: 'health Suspended'})
    expect(evaluate(suspended, {...exp, acceptHealth: ['Suspended']}).kind).toBe('done')
  })

  it('OutOfSync with resources requiring pruning after our sync fails at once, naming them', () => {
    const v = evaluate(
      after({
        sync: {
          status: 'OutOfSync',
          revision: 'b'.repeat(40),
          comparedTo: {source: newSource, destination}
        },
        resources: [
          deployment('Healthy'),
          {
            kind: 'ConfigMap',
            name: 'old',
            namespace: 'ns',
            status: 'OutOfSync',
            requiresPruning: true
          }
        ]
      }),
      exp
    )
    expect(v).toMatchObject({
      kind: 'failed',
      cause: 'prune',
      reason: expect.stringMatching(/^1 resource requires pruning: ConfigMap\/ns\/old; .*--prune/)
    })
  })

  it('a Pruned sync result is not listed as not ready; PruneSkipped is', () => {
    const v = evaluate(
      after({
        health: {status: 'Progressing'},
        operationState: {
          phase: 'Succeeded',
          startedAt: T1,
          finishedAt: T2,
          syncResult: {
            source: newSource,
            revision: 'b'.repeat(40),
            resources: [
              {
                kind: 'ConfigMap',
                name: 'old',
                namespace: 'ns',
                status: 'Pruned',
                message: 'pruned'
              },
              {
                kind: 'Secret',
                name: 'keep',
                namespace: 'ns',
                status: 'PruneSkipped',
                message: 'ignored (requires pruning)'
              }
            ]
          }
        }
      }),
      exp
    )
    expect(v.progress.pending.map(r => r.kind)).toEqual(['Secret'])
  })
})
