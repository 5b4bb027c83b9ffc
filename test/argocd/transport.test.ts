import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {ArgoClient} from '../../src/argocd/client.js'
import {argoUpsertCommand} from '../../src/commands/argo-upsert.js'
import type {DeployResult} from '../../src/argocd/deploy.js'
import {ArgoCdDouble, IN_CLUSTER} from '../doubles/argocd-double.js'
import {baseArgs, cli, REPO, SHA1} from './helpers.js'

let dir: string
let tls: {key: string; cert: string; ca: string} | undefined

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'argocd-tls-'))
  try {
    const run = (...args: string[]) => execFileSync('openssl', args, {cwd: dir, stdio: 'pipe'})
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    run(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '1',
      '-subj',
      '/CN=gitops-test-ca'
    )
    run('req', ...ec, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1')
    writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n')
    run(
      'x509',
      '-req',
      '-in',
      'srv.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'srv.pem',
      '-days',
      '1',
      '-extfile',
      'ext'
    )
    const read = (f: string) => readFileSync(join(dir, f), 'utf8')
    tls = {key: read('srv.key'), cert: read('srv.pem'), ca: read('ca.pem')}
  } catch {
    tls = undefined
  }
})

afterAll(() => rmSync(dir, {recursive: true, force: true}))

let double: ArgoCdDouble | undefined
afterEach(async () => {
  await double?.close()
  expect(double?.violations ?? []).toEqual([])
  double = undefined
})

async function httpsDouble(): Promise<{d: ArgoCdDouble; env: Record<string, string>}> {
  const d = await new ArgoCdDouble().start({key: tls!.key, cert: tls!.cert})
  d.addProject('shop')
  double = d
  return {d, env: {ARGOCD_AUTH_TOKEN: d.token('ci')}}
}

describe('TLS', () => {
  it('an unknown CA fails with --ca-file as the fix; --ca-file and --insecure both work', async ({
    skip
  }) => {
    if (!tls) skip('openssl is not available to make a test certificate')
    const {d, env} = await httpsDouble()
    const plain = await cli(baseArgs(d), env)
    expect(plain.code).toBe(1)
    expect(plain.stderr).toMatch(/TLS error UNABLE_TO_VERIFY_LEAF_SIGNATURE.*pass --ca-file <pem>/)
    expect(d.requests).toHaveLength(0)

    writeFileSync(join(dir, 'ca-only.pem'), tls!.ca)
    const withCa = await cli(baseArgs(d, ['--ca-file', join(dir, 'ca-only.pem'), '--json']), env)
    expect(withCa.code).toBe(0)
    expect(withCa.json!.operation).toBe('created')
    expect(withCa.json!.url).toBe(`${d.url}/applications/argocd/web`)

    const insecure = await cli(baseArgs(d, ['--insecure', '--json']), env)
    expect(insecure.code).toBe(0)
    expect(insecure.json!.operation).toBe('unchanged')
  })

  it('--ca-file that is not PEM is refused before any call', async () => {
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate')
    const run = await cli(
      [
        'argo-upsert',
        '--server',
        'https://cd.example.com',
        '--app',
        'a',
        '--project',
        'p',
        '--repo',
        REPO,
        '--path',
        '.',
        '--revision',
        SHA1,
        '--dest-server',
        IN_CLUSTER,
        '--dest-namespace',
        'n',
        '--ca-file',
        join(dir, 'junk.pem')
      ],
      {ARGOCD_AUTH_TOKEN: 'a.b.c'}
    )
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('holds no PEM certificate')
  })
})

describe('server base path and wrong endpoints', () => {
  it('a --server that is not the API root says so', async () => {
    const d = await new ArgoCdDouble().start()
    double = d
    d.addProject('shop')
    const env = {ARGOCD_AUTH_TOKEN: d.token('ci')}
    // The UI handler answers paths outside /api; here a root path that doesn't exist.
    const run = await cli(
      baseArgs(d).map(a => (a === d.url ? `${d.url}/argocd` : a)),
      env
    )
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/answered 404: Not Found; check --server: .*--rootpath/)
  })

  it('a bare host gets https://, credentials in the URL are refused', async () => {
    const args = (server: string) => [
      'argo-upsert',
      '--server',
      server,
      '--app',
      'a',
      '--project',
      'p',
      '--repo',
      REPO,
      '--path',
      '.',
      '--revision',
      SHA1,
      '--dest-server',
      IN_CLUSTER,
      '--dest-namespace',
      'n',
      '--timeout',
      '1'
    ]
    const cred = await cli(args('https://user:pw@cd.example.com'), {ARGOCD_AUTH_TOKEN: 'a.b.c'})
    expect(cred.code).toBe(2)
    expect(cred.stderr).toContain('must not carry credentials')
  })
})

describe('outputs and job summary', () => {
  const result: DeployResult = {
    operation: 'updated',
    name: 'web',
    project: 'shop',
    url: 'https://cd.example.com/applications/argocd/web',
    changes: [{path: 'spec.source.plugin.env[IMAGE_TAG]', before: '1.0', after: '1.1'}],
    sync: {kind: 'joined', phase: 'Succeeded'},
    wait: {
      kind: 'failed',
      reason: 'health Degraded',
      resources: [
        {
          kind: 'Deployment',
          name: 'web',
          namespace: 'shop',
          sync: 'Synced',
          health: 'Degraded',
          message: 'exceeded its progress deadline'
        }
      ]
    },
    syncStatus: 'Synced',
    healthStatus: 'Degraded',
    revision: SHA1,
    timeoutSeconds: 300
  }

  it('kebab-case outputs for the action and the dotenv report', () => {
    expect(argoUpsertCommand.outputs(result)).toEqual({
      operation: 'updated',
      'sync-status': 'Synced',
      'health-status': 'Degraded',
      revision: SHA1,
      url: 'https://cd.example.com/applications/argocd/web',
      // --rollback-on-failure was not given: empty, so a later step can test it.
      'rolled-back': ''
    })
    expect(argoUpsertCommand.outputSpecs.map(o => o.name)).toEqual(
      Object.keys(argoUpsertCommand.outputs(result))
    )
    expect(argoUpsertCommand.exitCode!(result)).toBe(1)
  })

  it('the summary names the outcome, the overwritten fields and the failing resources', () => {
    const md = argoUpsertCommand.summary(result)
    expect(md).toContain('**deploy of web failed: health Degraded**')
    expect(md).toContain('| Application | [web](https://cd.example.com/applications/argocd/web) |')
    expect(md).toContain('| Status | Synced / Degraded |')
    expect(md).toContain('- `spec.source.plugin.env[IMAGE_TAG]: 1.0 -> 1.1`')
    expect(md).toContain('- Deployment/shop/web (Synced/Degraded): exceeded its progress deadline')
    // The action fails the step with the first line of the text.
    expect(argoUpsertCommand.text(result).split('\n')[0]).toBe(
      'deploy of web failed: health Degraded'
    )
  })
})

describe('classifying server answers by code and message', () => {
  const client = new ArgoClient({server: 'http://127.0.0.1:9', token: 'a.b.c'})
  const classify = (status: number, code: number | undefined, message: string) =>
    client.classify(
      {
        status,
        contentType: 'application/json',
        text: JSON.stringify(code === undefined ? {message} : {error: message, code, message})
      },
      'POST',
      new URL('http://127.0.0.1:9/api/v1/applications'),
      'creating application web'
    )

  it('gRPC 2 is final when its message names a lasting cause, retried when it names a passing one', () => {
    expect(classify(500, 2, "namespace 'team-a' is not permitted")).toMatchObject({
      kind: 'refused',
      detail: {transient: false}
    })
    expect(classify(500, 2, 'some plain error nobody has seen')).toMatchObject({
      kind: 'refused',
      detail: {transient: false}
    })
    expect(
      classify(500, 2, 'rpc error: code = Unavailable desc = connection refused').detail.transient
    ).toBe(true)
    expect(classify(500, 13, 'Too many conflicts').detail.transient).toBe(true)
    expect(classify(500, undefined, 'Internal Server Error').detail.transient).toBe(true)
  })

  it('a sync window and a render failure get their own kinds and fixes', () => {
    expect(classify(403, 7, 'cannot sync: blocked by sync window')).toMatchObject({
      kind: 'sync-window'
    })
    const render = classify(
      400,
      3,
      'application spec for web is invalid: InvalidSpecError: Unable to generate manifests in overlays/dev: rpc error: code = Unknown desc = Error: could not find secret'
    )
    expect(render.kind).toBe('render-failed')
    expect(render.message).toContain(
      'The renderer said: "rpc error: code = Unknown desc = Error: could not find secret"'
    )
  })
})
