import {lstat, mkdir, readFile, readlink, rm, stat, symlink, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {UsageError} from '../../src/core/errors.js'
import {writeFiles} from '../../src/edits/workspace.js'
import {tempDir} from '../helpers/git-fixtures.js'

/** The one workspace writer every edit (set-image, promote, argo-app) writes through. */
describe('writeFiles: one symlink and atomic-write policy', () => {
  let root: string
  let outside: string
  beforeEach(async () => {
    root = await tempDir()
    outside = await tempDir()
    await mkdir(join(root, 'apps/web'), {recursive: true})
    await writeFile(join(root, 'apps/web/kustomization.yaml'), 'old\n', {mode: 0o640})
  })
  afterEach(async () => {
    await rm(root, {recursive: true, force: true})
    await rm(outside, {recursive: true, force: true})
  })

  it('replaces an existing file keeping its mode, and creates a new one with its directories', async () => {
    await writeFiles(root, [
      {file: 'apps/web/kustomization.yaml', after: 'new\n'},
      {file: 'argocd/apps/web.yaml', after: Buffer.from('kind: Application\n')}
    ])
    expect(await readFile(join(root, 'apps/web/kustomization.yaml'), 'utf8')).toBe('new\n')
    expect((await stat(join(root, 'apps/web/kustomization.yaml'))).mode & 0o777).toBe(0o640)
    expect(await readFile(join(root, 'argocd/apps/web.yaml'), 'utf8')).toBe('kind: Application\n')
  })

  it('writes through a symlink that stays inside the root; the link stays a link', async () => {
    await symlink('web', join(root, 'apps/alias'))
    await writeFiles(root, [{file: 'apps/alias/kustomization.yaml', after: 'via link\n'}])
    expect(await readFile(join(root, 'apps/web/kustomization.yaml'), 'utf8')).toBe('via link\n')
    expect((await lstat(join(root, 'apps/alias'))).isSymbolicLink()).toBe(true)
    expect(await readlink(join(root, 'apps/alias'))).toBe('web')
  })

  it('refuses a path that leads outside the root, before writing any file (exit 2)', async () => {
    await symlink(outside, join(root, 'apps/out'))
    const write = writeFiles(root, [
      {file: 'apps/web/kustomization.yaml', after: 'new\n'},
      {file: 'apps/out/kustomization.yaml', after: 'escaped\n'}
    ])
    await expect(write).rejects.toThrow(UsageError)
    await expect(write).rejects.toThrow(/resolves outside the repository \(a symlink\)/)
    expect(await readFile(join(root, 'apps/web/kustomization.yaml'), 'utf8')).toBe('old\n')
    await expect(stat(join(outside, 'kustomization.yaml'))).rejects.toThrow()
  })

  it('refuses a path through a file, and a directory as the target', async () => {
    await expect(
      writeFiles(root, [{file: 'apps/web/kustomization.yaml/x.yaml', after: ''}])
    ).rejects.toThrow(/apps\/web\/kustomization.yaml is not a directory/)
    await expect(writeFiles(root, [{file: 'apps/web', after: ''}])).rejects.toThrow(
      /it is a directory/
    )
  })
})
