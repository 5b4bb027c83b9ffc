import {rm, symlink, unlink, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {Redactor} from '../../src/core/redact.js'
import {Git} from '../../src/git/git.js'
import {git, tempDir} from '../helpers/git-fixtures.js'

const AUTHOR = {name: 'Test', email: 'test@example.com'}

describe('Git.commitFiles', () => {
  let dir: string
  beforeEach(async () => {
    dir = await tempDir()
    await git(dir, ['init', '--quiet', '--initial-branch=main'])
    await writeFile(join(dir, 'kustomization.yaml'), 'resources: []\n')
    await git(dir, ['add', '.'])
    await git(dir, [
      '-c',
      'user.name=t',
      '-c',
      'user.email=t@example.com',
      'commit',
      '--quiet',
      '-m',
      'init'
    ])
  })
  afterEach(() => rm(dir, {recursive: true, force: true}))

  it('refuses to commit a file that became a symlink (nothing is committed)', async () => {
    const before = (await git(dir, ['rev-parse', 'HEAD'])).trim()
    await unlink(join(dir, 'kustomization.yaml'))
    await symlink('/etc/passwd', join(dir, 'kustomization.yaml'))
    const repo = await Git.create(dir, {redactor: new Redactor()})
    await expect(repo.commitFiles(['kustomization.yaml'], 'edit', AUTHOR)).rejects.toThrow(
      /^refusing to commit kustomization\.yaml: it became a symbolic link during the edit/
    )
    expect((await git(dir, ['rev-parse', 'HEAD'])).trim()).toBe(before)
  })

  it('commits a regular edit', async () => {
    await writeFile(join(dir, 'kustomization.yaml'), 'resources: [a.yaml]\n')
    const repo = await Git.create(dir, {redactor: new Redactor()})
    const commit = await repo.commitFiles(['kustomization.yaml'], 'edit', AUTHOR)
    expect(commit).toMatch(/^[0-9a-f]{40}$/)
    expect(await git(dir, ['show', 'HEAD:kustomization.yaml'])).toBe('resources: [a.yaml]\n')
  })
})
