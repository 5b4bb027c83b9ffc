import {describe, expect, it} from 'vitest'
import {DOTENV_LIMIT, DOTENV_MAX_VARIABLES, dotenvKey, dotenvReport, toDotenv} from '../../src/adapters/gitlab/dotenv.js'
import {Redactor} from '../../src/core/redact.js'
import {fakeToken} from '../helpers/fake-token.js'

// The rules GitLab applies when it parses the report (Ci::ParseDotenvArtifactService, docs
// "artifacts:reports:dotenv"): every line KEY=VALUE, keys [A-Za-z0-9_], no blank or comment lines.
function assertGitLabParses(text: string): Record<string, string> {
  expect(Buffer.byteLength(text)).toBeLessThan(5 * 1024)
  const vars: Record<string, string> = {}
  for (const line of text.split('\n').slice(0, -1)) {
    const m = /^([A-Za-z0-9_]+)=(.*)$/.exec(line)
    expect(m, `line ${JSON.stringify(line)}`).not.toBeNull()
    vars[m![1]] = m![2].trim()
  }
  expect(text === '' || text.endsWith('\n')).toBe(true)
  expect(Object.keys(vars).length).toBeLessThanOrEqual(DOTENV_MAX_VARIABLES)
  return vars
}

describe('dotenv report', () => {
  it('maps kebab outputs to GITOPS_ keys and adds the GitLab names for merge requests', () => {
    expect(dotenvKey('pr-url')).toBe('GITOPS_PR_URL')
    const text = toDotenv({
      changed: 'true',
      commit: 'abc123',
      'pr-number': '42',
      'pr-url': 'https://gitlab.example.com/acme/config/-/merge_requests/42',
      'pr-operation': 'created'
    })
    expect(assertGitLabParses(text)).toEqual({
      GITOPS_CHANGED: 'true',
      GITOPS_COMMIT: 'abc123',
      GITOPS_PR_NUMBER: '42',
      GITOPS_PR_URL: 'https://gitlab.example.com/acme/config/-/merge_requests/42',
      GITOPS_PR_OPERATION: 'created',
      GITOPS_MR_IID: '42',
      GITOPS_MR_URL: 'https://gitlab.example.com/acme/config/-/merge_requests/42',
      GITOPS_MR_OPERATION: 'created'
    })
  })

  it('keeps empty outputs as KEY= and flattens multi-line values', () => {
    const vars = assertGitLabParses(toDotenv({commit: '', reason: 'line one\nline two\r\n  three'}))
    expect(vars).toEqual({GITOPS_COMMIT: '', GITOPS_REASON: 'line one line two three'})
  })

  it('drops (never truncates) a value that would break the 5 KB limit, and says which', () => {
    const files = JSON.stringify(Array.from({length: 400}, (_, i) => `apps/app-${i}/overlays/dev/kustomization.yaml`))
    const report = dotenvReport({changed: 'true', files, commit: 'abc'})
    const vars = assertGitLabParses(report.text)
    expect(vars).toEqual({GITOPS_CHANGED: 'true', GITOPS_COMMIT: 'abc'})
    expect(report.dropped).toEqual(['GITOPS_FILES'])
    expect(Buffer.byteLength(report.text)).toBeLessThanOrEqual(DOTENV_LIMIT)
  })

  it('stays within the default limit of 20 variables', () => {
    const outputs = Object.fromEntries(Array.from({length: 25}, (_, i) => [`out-${i}`, String(i)]))
    const report = dotenvReport(outputs)
    expect(Object.keys(assertGitLabParses(report.text))).toHaveLength(20)
    expect(report.dropped).toHaveLength(5)
  })

  it('redacts registered secrets', () => {
    const secret = fakeToken('glpat-', 'dotenv')
    const redactor = new Redactor()
    redactor.add(secret)
    const text = toDotenv({reason: `push failed for https://oauth2:${secret}@host/x`}, redactor)
    expect(text).not.toContain(secret)
    expect(text).toContain('oauth2:***@host')
  })
})
