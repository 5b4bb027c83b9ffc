import {describe, expect, it} from 'vitest'
import {
  editText,
  prLifecycleJson,
  prLifecycleOutputs,
  prLifecycleText,
  remoteReport
} from '../../src/delivery/report.js'
import type {PrLifecycleResult} from '../../src/delivery/pull-request.js'
import {parseRemoteUrl} from '../../src/git/remote-url.js'

const remote = parseRemoteUrl('https://github.com/acme/config.git', '/')
const common = {branch: 'main', attempts: 2, remote}
const outcome = {changed: true, files: [{file: 'k.yaml'}]}

const opened: PrLifecycleResult = {
  operation: 'created',
  base: 'main',
  branch: 'gitops-deploy/main/web',
  commit: 'c0ffee',
  pushed: true,
  pullRequest: {
    number: 7,
    url: 'https://github.com/acme/config/pull/7',
    head: 'gitops-deploy/main/web',
    base: 'main',
    title: 'Deploy web:2 to apps/web',
    body: '',
    draft: false,
    labels: [],
    autoMerge: false
  },
  changes: []
}
const noop: PrLifecycleResult = {operation: 'no-op', base: 'main', branch: 'b', baseCommit: 'abc'}

describe('PR lifecycle reports', () => {
  it('maps an opened PR and a no-op to outputs, JSON and text', () => {
    expect(prLifecycleOutputs(opened)).toEqual({
      'pr-number': '7',
      'pr-url': 'https://github.com/acme/config/pull/7',
      'pr-operation': 'created'
    })
    expect(prLifecycleOutputs(noop)).toEqual({
      'pr-number': '',
      'pr-url': '',
      'pr-operation': 'no-op'
    })
    expect(prLifecycleJson(opened)).toEqual({
      branch: 'gitops-deploy/main/web',
      base: 'main',
      pullRequest: {
        number: 7,
        url: 'https://github.com/acme/config/pull/7',
        operation: 'created',
        commit: 'c0ffee'
      }
    })
    expect(prLifecycleJson(noop).pullRequest).toEqual({number: null, url: null, operation: 'no-op'})
    expect(prLifecycleText(opened)).toBe(
      'pull request created: https://github.com/acme/config/pull/7 (branch gitops-deploy/main/web)'
    )
    expect(prLifecycleText(noop)).toBe('main already has this change; no pull request opened')
  })
})

describe('remoteReport', () => {
  it('reports each kind of remote write, with the writer extras', () => {
    const pushed = remoteReport(
      {...common, kind: 'pushed', commit: 'abc123', base: 'b0', outcome, message: 'm\n'},
      {transport: 'git'}
    )
    expect(pushed).toEqual({
      repo: 'https://github.com/acme/config.git',
      branch: 'main',
      attempts: 2,
      transport: 'git',
      commit: 'abc123',
      pushed: true,
      commitUrl: 'https://github.com/acme/config/commit/abc123',
      message: 'm\n'
    })
    expect(remoteReport({...common, kind: 'unchanged', base: 'b0', outcome})).toMatchObject({
      commit: null,
      pushed: false
    })
    expect(
      remoteReport({...common, kind: 'rejected', reason: 'protected', detail: 'GH006', outcome})
    ).toMatchObject({pushed: false, rejected: {reason: 'protected', detail: 'GH006'}})
  })
})

describe('editText', () => {
  const lines = ['k.yaml: web 1 -> 2']
  it('prints the diff first under --dry-run, then the would-be commit', () => {
    const r = remoteReport({...common, kind: 'dry-run', base: 'b0', outcome, message: 'Deploy\n'})
    const text = editText(lines, {changed: true, dryRun: true, diff: '--- a/k\n', remote: r})
    expect(text).toBe(
      '--- a/k\nk.yaml: web 1 -> 2\ndry run: would commit to main of https://github.com/acme/config.git:\n  Deploy\n'
    )
  })
  it('puts a refused push first, so the failure message names it', () => {
    const r = remoteReport({...common, kind: 'rejected', reason: 'other', detail: 'no', outcome})
    const text = editText(lines, {changed: true, dryRun: false, diff: '', remote: r})
    expect(text.split('\n')[0]).toMatch(/^error: push to main of .* rejected after 2 attempts/)
    expect(text.split('\n')[1]).toBe(lines[0])
  })
  it('adds the PR line after the command lines', () => {
    expect(editText(lines, {changed: true, dryRun: false, diff: 'x', pr: opened})).toBe(
      `${lines[0]}\n${prLifecycleText(opened)}\n`
    )
  })
})
