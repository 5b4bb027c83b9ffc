import {execFileSync} from 'node:child_process'
import {
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile
} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {UsageError} from '../../src/core/errors.js'
import {writeFailure, writeFiles} from '../../src/edits/workspace.js'
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

  it('a planted symlink at a temporary name is never followed or chmod-ed', async () => {
    // The name the writer used before: a config repo could commit a link there.
    const victim = join(outside, 'victim')
    await writeFile(victim, 'keep\n', {mode: 0o600})
    for (const name of [
      `.kustomization.yaml.gitops-deploy-${process.pid}.tmp`,
      '.kustomization.yaml.gitops-deploy-0.tmp'
    ]) {
      await symlink(victim, join(root, 'apps/web', name))
    }
    await writeFiles(root, [{file: 'apps/web/kustomization.yaml', after: 'new\n'}])
    expect(await readFile(victim, 'utf8')).toBe('keep\n')
    expect((await stat(victim)).mode & 0o777).toBe(0o600)
    const st = await lstat(join(root, 'apps/web/kustomization.yaml'))
    expect(st.isFile()).toBe(true)
    expect(await readFile(join(root, 'apps/web/kustomization.yaml'), 'utf8')).toBe('new\n')
    // No temporary of ours is left beside it: only the planted links and the file.
    expect((await readdir(join(root, 'apps/web'))).sort()).toEqual(
      [
        '.kustomization.yaml.gitops-deploy-0.tmp',
        `.kustomization.yaml.gitops-deploy-${process.pid}.tmp`,
        'kustomization.yaml'
      ].sort()
    )
  })

  it('is all or nothing: when one file cannot be written, none is changed and no temporary is left', async () => {
    // A name that exists but whose temporary sibling is too long for the file system
    // (ENAMETOOLONG): a failure every user, root included, can hit.
    const long = `apps/web/${'v'.repeat(240)}.yaml`
    await writeFile(join(root, long), 'b: old\n')
    const write = writeFiles(root, [
      {file: 'apps/web/kustomization.yaml', after: 'new\n'},
      {file: 'apps/new/created.yaml', after: 'created\n'},
      {file: long, after: 'b: new\n'}
    ])
    await expect(write).rejects.toThrow(
      new RegExp(
        `^cannot write ${long}: .*name too long.*; check the file permissions and free disk space$`
      )
    )
    expect(await readFile(join(root, 'apps/web/kustomization.yaml'), 'utf8')).toBe('old\n')
    expect(await readFile(join(root, long), 'utf8')).toBe('b: old\n')
    await expect(stat(join(root, 'apps/new'))).rejects.toThrow()
    expect((await readdir(join(root, 'apps/web'))).sort()).toEqual(
      ['kustomization.yaml', long.slice('apps/web/'.length)].sort()
    )
  })

  it('refuses a FIFO (or any non-regular file) at a planned name instead of hanging', async () => {
    await rm(join(root, 'apps/web/kustomization.yaml'))
    execFileSync('mkfifo', [join(root, 'apps/web/kustomization.yaml')])
    await expect(
      writeFiles(root, [{file: 'apps/web/kustomization.yaml', after: 'new\n'}])
    ).rejects.toThrow(
      'refusing to write apps/web/kustomization.yaml: it is not a regular file (a FIFO, socket or device); replace it with a regular file'
    )
  })

  it('refuses to write into .git, also through a symlink that stays inside the root', async () => {
    await mkdir(join(root, '.git'))
    await writeFile(join(root, '.git/config'), '[core]\n')
    await symlink('../.git', join(root, 'apps/g'))
    for (const file of ['.git/config', 'apps/g/config']) {
      await expect(
        writeFiles(root, [{file, after: '[core]\n\tfsmonitor = evil\n'}])
      ).rejects.toThrow(/is inside \.git, git's own files/)
    }
    expect(await readFile(join(root, '.git/config'), 'utf8')).toBe('[core]\n')
  })

  it('names the cause of a failed write with its own fix (a full disk is not a permissions problem)', () => {
    const err = (code: string, message: string) => Object.assign(new Error(message), {code})
    expect(writeFailure('write', 'k.yaml', err('ENOSPC', 'no space left on device')).message).toBe(
      'cannot write k.yaml: no space left on device; the disk (or quota) is full; free space on the file system that holds the checkout and run again'
    )
    expect(writeFailure('write', 'k.yaml', err('EROFS', 'read-only file system')).message).toMatch(
      /; the file system is read-only; run where the checkout is writable$/
    )
    expect(writeFailure('create', 'k.yaml', err('EACCES', 'permission denied')).message).toBe(
      'cannot create k.yaml: permission denied; check the file and directory permissions'
    )
  })
})
