import {describe, expect, it} from 'vitest'
import {sparseDirs} from '../../src/git/sparse-set.js'

const tree = [
  'README.md',
  'apps/a/base/kustomization.yaml',
  'apps/a/overlays/prod/kustomization.yaml',
  'apps/a/overlays/prod/patches/replicas.yaml',
  'apps/a-b/overlays/prod/kustomization.yaml',
  'apps/b/overlays/prod/kustomization.yml',
  'apps/b/overlays/dev/kustomization.yml',
  'helm/payments/values.yaml',
  '.hidden/overlays/prod/kustomization.yaml'
]

describe('sparseDirs', () => {
  it('picks the directories a glob matches, from the tree alone', () => {
    expect(sparseDirs(tree, {dirGlobs: ['apps/*/overlays/prod'], files: []})).toEqual([
      'apps/a-b/overlays/prod',
      'apps/a/overlays/prod',
      'apps/b/overlays/prod'
    ])
  })
  it('adds the parents of --set files and collapses nested picks', () => {
    expect(
      sparseDirs(tree, {
        dirGlobs: ['apps/a', 'apps/a/overlays/prod', './apps/b/overlays/dev/'],
        files: ['helm/payments/values.yaml']
      })
    ).toEqual(['apps/a', 'apps/b/overlays/dev', 'helm/payments'])
  })
  it('matches globbed files and dot directories', () => {
    expect(sparseDirs(tree, {dirGlobs: ['**/prod'], files: ['helm/**/values*.yaml']})).toEqual([
      '.hidden/overlays/prod',
      'apps/a-b/overlays/prod',
      'apps/a/overlays/prod',
      'apps/b/overlays/prod',
      'helm/payments'
    ])
  })
  it('needs no directory for root files and checks out everything for the root', () => {
    expect(sparseDirs(tree, {dirGlobs: [], files: ['README.md']})).toEqual([])
    expect(sparseDirs(tree, {dirGlobs: ['.'], files: []})).toEqual([''])
  })
  it('picks nothing for a path that is not in the tree (the planner reports it)', () => {
    expect(sparseDirs(tree, {dirGlobs: ['apps/zzz'], files: []})).toEqual([])
  })
})
