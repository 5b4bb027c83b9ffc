import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {UsageError} from '../../src/core/errors.js'
import {plaintextSecretGuard} from '../../src/edits/secret-guard.js'
import {cli} from '../helpers/cli.js'
import {makeBareRepo, type BareRepo} from '../helpers/git-fixtures.js'

const ctx = {mode: 'local' as const}
const write = (after: string, before: string | null = null, path = 'apps/web/secret.yaml') => ({
  path,
  before,
  after
})
const refused = (after: string, before: string | null = null) =>
  plaintextSecretGuard()([write(after, before)], ctx)

const secret = (body: string, annotations = '') =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n${annotations}${body}`

describe('plaintextSecretGuard', () => {
  it('refuses clear stringData and base64 data, naming file, Secret and keys', async () => {
    const r = refused(
      secret('stringData:\n  DATABASE_URL: postgres://u:p@db/app\ndata:\n  token: aHVudGVyMg==\n')
    )
    await expect(r).rejects.toThrow(UsageError)
    await expect(r).rejects.toThrow(
      /^refusing to commit plaintext secrets: apps\/web\/secret\.yaml: Secret db \(data\.token, stringData\.DATABASE_URL\); keep secrets out of git: .*; or, if these values are not secret, allow the file with --allow-secret <path>$/
    )
  })

  it('refuses clear secretGenerator literals in a kustomization', async () => {
    await expect(
      plaintextSecretGuard()(
        [
          write(
            'secretGenerator:\n- name: app\n  literals:\n  - password=hunter2\n  - empty=\n',
            null,
            'apps/web/kustomization.yaml'
          )
        ],
        ctx
      )
    ).rejects.toThrow(/secretGenerator app \(literals\.password\)/)
  })

  it('passes what keeps secrets out of git', async () => {
    const ok = [
      // argocd-vault-plugin: full path placeholders, anywhere; key placeholders with the annotation
      secret('stringData:\n  DATABASE_URL: <path:kv/data/team/app#DATABASE_URL>\n'),
      secret(
        'stringData:\n  DATABASE_URL: <DATABASE_URL>\n',
        '  annotations:\n    avp.kubernetes.io/path: kv/data/team/app\n'
      ),
      secret(
        `data:\n  DATABASE_URL: ${Buffer.from('<path:kv/data/app#URL>').toString('base64')}\n`
      ),
      // SOPS
      secret(
        'stringData:\n  DATABASE_URL: ENC[AES256_GCM,data:abc=,iv:x=,tag:y=,type:str]\nsops:\n  mac: ENC[AES256_GCM,data:z=,iv:x=,tag:y=,type:str]\n  version: 3.9.0\n'
      ),
      // other kinds, empty values
      'apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\nspec:\n  encryptedData:\n    password: AgBy3i4OJSWK+PiTySYZZA==\n',
      'apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata:\n  name: db\nspec:\n  data:\n  - secretKey: password\n    remoteRef: {key: app, property: password}\n',
      secret('stringData:\n  EMPTY: ""\n'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  password: not-a-secret-kind\n'
    ]
    for (const text of ok) await expect(refused(text), text).resolves.toBeUndefined()
  })

  it('lets the files named by --allow-secret (paths or globs) through, and only those', async () => {
    const text = secret('stringData:\n  A: b\n')
    const guard = plaintextSecretGuard(['apps/*/secret.yaml'])
    await expect(guard([write(text)], ctx)).resolves.toBeUndefined()
    await expect(guard([write(text, null, 'apps/web/other.yaml')], ctx)).rejects.toThrow(
      /apps\/web\/other\.yaml: Secret db/
    )
  })

  it('does not blame a run for a Secret that was already committed unchanged', async () => {
    const text = secret('stringData:\n  A: b\n')
    await expect(refused(`${text}---\nkind: ConfigMap\n`, text)).resolves.toBeUndefined()
    await expect(refused(secret('stringData:\n  A: c\n'), text)).rejects.toThrow(/Secret db/)
  })
})

describe('deliver() runs the guard in every mode; --allow-secret <path> lets one file through', () => {
  let root: string | undefined
  let repo: BareRepo | undefined
  afterEach(async () => {
    if (root) await rm(root, {recursive: true, force: true})
    await repo?.cleanup()
    root = repo = undefined
  })

  it('local: exit 2, the file untouched; with --allow-secret it is written', async () => {
    root = await mkdtemp(join(tmpdir(), 'secret-guard-'))
    const before = secret('stringData:\n  password: ""\n')
    await writeFile(join(root, 'secret.yaml'), before)
    const args = ['set-image', '-C', root, '--set', 'secret.yaml:stringData.password=hunter2']
    const r = await cli(args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /^error: refusing to commit plaintext secrets: secret\.yaml: Secret db \(stringData\.password\)/
    )
    expect(await readFile(join(root, 'secret.yaml'), 'utf8')).toBe(before)
    const other = await cli([...args, '--allow-secret', 'other/*.yaml'])
    expect(other.code).toBe(2)
    const allowed = await cli([...args, '--allow-secret', '*.yaml'])
    expect(allowed.code, allowed.stderr).toBe(0)
    expect(await readFile(join(root, 'secret.yaml'), 'utf8')).toMatch(/password: "hunter2"/)
  })

  it('push: exit 2 and the remote untouched', async () => {
    repo = await makeBareRepo({'secret.yaml': secret('stringData:\n  password: ""\n')})
    const head = await repo.head()
    const r = await cli([
      'set-image',
      '--repo',
      repo.url,
      '--set',
      'secret.yaml:stringData.password=hunter2'
    ])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/refusing to commit plaintext secrets/)
    expect(await repo.head()).toBe(head)
  })
})
