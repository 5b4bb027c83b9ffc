import {generateKeyPairSync} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {credentialGuard} from '../../src/edits/credential-guard.js'
import type {PlannedWrite} from '../../src/edits/edit.js'
import {cli} from '../helpers/cli.js'

// Built at run time so no credential-shaped literal sits in the repository.
const PAT = ['ghp', '_', 'wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx'].join('')
const PRIVATE_KEY = generateKeyPairSync('rsa', {modulusLength: 2048}).privateKey.export({
  type: 'pkcs1',
  format: 'pem'
}) as string

const ctx = {mode: 'local' as const}
const write = (path: string, after: string, before: string | null = null): PlannedWrite => ({
  path,
  before,
  after
})

describe('credentialGuard', () => {
  it('refuses a forge token and a private key this run adds, naming file, line and kind, never the value', async () => {
    const run = credentialGuard()(
      [
        write(
          'apps/web/values.yaml',
          `image:\n  tag: 1.0.0\ntoken: ${PAT}\n`,
          'image:\n  tag: 0.9.0\n'
        ),
        write('apps/web/tls/key.pem', PRIVATE_KEY)
      ],
      ctx
    )
    await expect(run).rejects.toThrow(
      /refusing to commit what looks like a credential: apps\/web\/values\.yaml:3: GITHUB_TOKEN; apps\/web\/tls\/key\.pem:1: PrivateKey/
    )
    await expect(run).rejects.not.toThrow(new RegExp(PAT))
    await expect(run).rejects.toThrow(/rotate it/)
  })

  it('lets through a credential already committed unchanged, files --allow-secret names, and placeholders', async () => {
    const before = `token: ${PAT}\nimage:\n  tag: 0.9.0\n`
    await credentialGuard()([write('values.yaml', before.replace('0.9.0', '1.0.0'), before)], ctx)
    await credentialGuard(['apps/*/values.yaml'])(
      [write('apps/web/values.yaml', `token: ${PAT}\n`)],
      ctx
    )
    await credentialGuard()(
      [
        write(
          'secret.yaml',
          'apiVersion: v1\nkind: Secret\nstringData:\n  token: <path:kv/data/web#token>\n'
        ),
        write('logo.png', 'PNG\0\0binary')
      ],
      ctx
    )
  })
})

describe('set-image --set writing a token', () => {
  it('exits 2 and leaves the file as it was', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gitops-cred-'))
    try {
      writeFileSync(join(root, 'values.yaml'), 'auth:\n  token: ""\n')
      const r = await cli(['set-image', '-C', root, '--set', `values.yaml:auth.token=${PAT}`], {})
      expect(r.code).toBe(2)
      expect(r.stderr).toContain('values.yaml:2: GITHUB_TOKEN')
      expect(r.stderr).not.toContain(PAT)
      expect(readFileSync(join(root, 'values.yaml'), 'utf8')).toBe('auth:\n  token: ""\n')
    } finally {
      rmSync(root, {recursive: true, force: true})
    }
  })
})
