import {mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeEach, describe, expect, it} from 'vitest'
import {UsageError} from '../../src/core/errors.js'
import {
  checkRelative,
  findKustomization,
  openRoot,
  resolveDirs,
  resolveInside
} from '../../src/edits/workspace.js'

let root: string
let outside: string

function touch(rel: string, text = 'resources: []\n'): void {
  const abs = join(root, rel)
  mkdirSync(join(abs, '..'), {recursive: true})
  writeFileSync(abs, text)
}

async function usageError(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err
  )
  expect(e).toBeInstanceOf(UsageError)
  return (e as Error).message
}

beforeEach(() => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'ws-')))
  root = join(base, 'repo')
  outside = join(base, 'outside')
  mkdirSync(root)
  mkdirSync(outside)
  for (const app of ['shop', 'cart', 'search']) {
    for (const env of ['staging', 'production'])
      touch(`apps/${app}/overlays/${env}/kustomization.yaml`)
    touch(`apps/${app}/base/kustomization.yaml`)
  }
  touch('.hidden/overlays/production/kustomization.yaml')
})

describe('checkRelative', () => {
  it('normalises harmless spellings', () => {
    expect(checkRelative('./apps/shop/', '--path')).toBe('apps/shop')
    expect(checkRelative('.', '--path')).toBe('.')
    expect(checkRelative('apps//shop', '--path')).toBe('apps/shop')
  })
  it.each(['../x', 'apps/../../x', 'apps/..', '/etc', 'C:/x', ''])('refuses %j', p => {
    expect(() => checkRelative(p, '--path')).toThrow(UsageError)
  })
})

describe('resolveDirs', () => {
  it('expands a glob to every matching directory, sorted', async () => {
    expect(await resolveDirs(root, ['apps/*/overlays/production'])).toEqual([
      'apps/cart/overlays/production',
      'apps/search/overlays/production',
      'apps/shop/overlays/production'
    ])
  })
  it('supports ** and brace sets, and removes duplicates', async () => {
    expect(
      await resolveDirs(root, ['apps/**/production', 'apps/{shop,cart}/overlays/production'])
    ).toEqual([
      'apps/cart/overlays/production',
      'apps/search/overlays/production',
      'apps/shop/overlays/production'
    ])
  })
  it('does not match hidden directories unless the pattern names them', async () => {
    expect(await usageError(resolveDirs(root, ['*/overlays/production']))).toContain(
      'matches no directory'
    )
    expect(await resolveDirs(root, ['.hidden/*/production'])).toEqual([
      '.hidden/overlays/production'
    ])
  })
  it('errors on a glob that matches nothing', async () => {
    expect(await usageError(resolveDirs(root, ['apps/*/overlays/prod']))).toBe(
      '--path "apps/*/overlays/prod" matches no directory in the config repo; check the pattern (globs are relative to the repository root: -C locally, the root of --repo remotely)'
    )
  })
  it('errors on a missing directory and on a file', async () => {
    expect(await usageError(resolveDirs(root, ['apps/nope']))).toContain('does not exist')
    expect(await usageError(resolveDirs(root, ['apps/shop/base/kustomization.yaml']))).toContain(
      'is a file'
    )
  })
  it('refuses .. and absolute paths before touching the disk', async () => {
    expect(await usageError(resolveDirs(root, ['../outside']))).toContain("uses '..'")
    expect(await usageError(resolveDirs(root, [outside]))).toContain('is absolute')
  })
  it('refuses a symlink that leads outside the root, literal or matched by a glob', async () => {
    mkdirSync(join(outside, 'evil'))
    writeFileSync(join(outside, 'evil', 'kustomization.yaml'), 'images: []\n')
    symlinkSync(join(outside, 'evil'), join(root, 'apps', 'evil'))
    expect(await usageError(resolveDirs(root, ['apps/evil']))).toContain(
      'symlink that leads outside the root'
    )
    expect(await usageError(resolveDirs(root, ['apps/*']))).toContain(
      'symlink that leads outside the root'
    )
  })
  it('follows a symlink that stays inside the root', async () => {
    symlinkSync(join(root, 'apps', 'shop'), join(root, 'apps', 'shop-alias'))
    expect(await resolveDirs(root, ['apps/shop-alias/overlays/production'])).toEqual([
      'apps/shop-alias/overlays/production'
    ])
  })
})

describe('findKustomization', () => {
  it('finds each recognised name', async () => {
    touch('a/kustomization.yml')
    touch('b/Kustomization')
    expect((await findKustomization(root, 'a')).file).toBe('a/kustomization.yml')
    expect((await findKustomization(root, 'b')).file).toBe('b/Kustomization')
    expect((await findKustomization(root, 'apps/shop/base')).file).toBe(
      'apps/shop/base/kustomization.yaml'
    )
  })
  it('uses kustomize error texts plus the fix', async () => {
    mkdirSync(join(root, 'empty'))
    expect(await usageError(findKustomization(root, 'empty'))).toBe(
      "empty: Missing kustomization file 'kustomization.yaml'. Create one there or fix --path"
    )
    touch('two/kustomization.yaml')
    touch('two/kustomization.yml')
    expect(await usageError(findKustomization(root, 'two'))).toBe(
      'two: Found multiple kustomization file: [kustomization.yaml kustomization.yml]; keep only one of them'
    )
    mkdirSync(join(root, 'dir', 'kustomization.yaml'), {recursive: true})
    expect(await usageError(findKustomization(root, 'dir'))).toContain(
      'kustomization.yaml should be a file'
    )
  })
  it('refuses a kustomization symlinked to a file outside the root', async () => {
    writeFileSync(join(outside, 'k.yaml'), 'images: []\n')
    mkdirSync(join(root, 'linked'))
    symlinkSync(join(outside, 'k.yaml'), join(root, 'linked', 'kustomization.yaml'))
    expect(await usageError(findKustomization(root, 'linked'))).toContain('leads outside the root')
  })
})

describe('openRoot / resolveInside', () => {
  it('errors on a missing root', async () => {
    expect(await usageError(openRoot(join(root, 'nope')))).toContain('-C <dir>')
  })
  it('resolves files inside and refuses escapes', async () => {
    expect(await resolveInside(root, 'apps/shop/base/kustomization.yaml', 'f')).toBe(
      join(root, 'apps/shop/base/kustomization.yaml')
    )
    symlinkSync(outside, join(root, 'out'))
    expect(await usageError(resolveInside(root, 'out', 'f'))).toContain('outside the root')
  })
})

describe('.git is never a place to edit', () => {
  it('refuses any path with a .git segment, in any case', () => {
    for (const p of ['.git/config', 'apps/.git/hooks/pre-commit', '.GIT/config', './.git']) {
      expect(() => checkRelative(p, '--set file')).toThrow(
        `--set file ${JSON.stringify(p)} is inside .git, git's own files (config, hooks); pass a path of the config repo's content`
      )
    }
  })

  it('refuses a symlink inside the root that leads into .git', async () => {
    mkdirSync(join(root, '.git'))
    touch('.git/kustomization.yaml')
    symlinkSync('../.git', join(root, 'apps/gitdir'))
    expect(await usageError(resolveInside(root, 'apps/gitdir', '--path'))).toContain(
      'is inside .git'
    )
    expect(await usageError(resolveDirs(root, ['apps/gitdir']))).toContain('is inside .git')
  })
})
