import {describe, expect, it} from 'vitest'
import {UsageError} from '../../src/core/errors.js'
import {parseRepoUrl, resolveForge} from '../../src/forge/provider.js'
import {
  BODY_LIMIT,
  DEFAULT_BRANCH_TEMPLATE,
  branchName,
  commitOfTag,
  compareLink,
  parseMarker,
  renderBody,
  renderTemplate,
  sourceRepoFromEnv,
  type PrChange
} from '../../src/forge/pr-body.js'

describe('provider resolution', () => {
  it('reads host and path from https, scp-style ssh and file URLs', () => {
    expect(parseRepoUrl('https://github.com/acme/config.git')).toEqual({
      protocol: 'https',
      host: 'github.com',
      segments: ['acme', 'config']
    })
    expect(parseRepoUrl('git@gitlab.example.com:group/sub/config.git')).toEqual({
      protocol: 'ssh',
      host: 'gitlab.example.com',
      segments: ['group', 'sub', 'config']
    })
    expect(parseRepoUrl('file:///tmp/x/acme/config.git').segments.slice(-2)).toEqual([
      'acme',
      'config'
    ])
  })

  it('github.com, GHES from the Actions environment, and an explicit --api-url', () => {
    expect(resolveForge({repoUrl: 'https://github.com/acme/config', env: {}})).toEqual({
      kind: 'github',
      apiUrl: 'https://api.github.com',
      webUrl: 'https://github.com',
      repoPath: 'acme/config'
    })
    const ghes = {
      GITHUB_SERVER_URL: 'https://git.corp.example',
      GITHUB_API_URL: 'https://git.corp.example/api/v3'
    }
    expect(
      resolveForge({repoUrl: 'https://git.corp.example/acme/config.git', env: ghes})
    ).toMatchObject({kind: 'github', apiUrl: 'https://git.corp.example/api/v3'})
    // No CI hint, but the name gives it away; the API follows the GHES layout.
    expect(
      resolveForge({repoUrl: 'https://github.corp.example/acme/config.git', env: {}}).apiUrl
    ).toBe('https://github.corp.example/api/v3')
    expect(
      resolveForge({
        repoUrl: 'https://code.example/acme/config.git',
        provider: 'github',
        apiUrl: 'http://127.0.0.1:9/api/v3/',
        env: {}
      }).apiUrl
    ).toBe('http://127.0.0.1:9/api/v3')
  })

  it('GitLab.com, self-managed GitLab from the CI environment, nested groups', () => {
    expect(resolveForge({repoUrl: 'https://gitlab.com/acme/platform/config.git', env: {}})).toEqual(
      {
        kind: 'gitlab',
        apiUrl: 'https://gitlab.com/api/v4',
        webUrl: 'https://gitlab.com',
        repoPath: 'acme/platform/config'
      }
    )
    const ci = {
      CI_SERVER_URL: 'https://code.corp.example:8443',
      CI_API_V4_URL: 'https://code.corp.example:8443/api/v4'
    }
    expect(
      resolveForge({repoUrl: 'https://code.corp.example:8443/g/config.git', env: ci})
    ).toMatchObject({kind: 'gitlab', apiUrl: 'https://code.corp.example:8443/api/v4'})
    // The job's API belongs to its own instance, not to another host's repo.
    expect(() =>
      resolveForge({repoUrl: 'https://code.other.example/g/config.git', env: ci})
    ).toThrow(/pass --provider github or --provider gitlab/)
  })

  it('rejects what it cannot use, naming the fix', () => {
    expect(() => resolveForge({repoUrl: 'https://github.com/acme', env: {}})).toThrow(/owner\/repo/)
    expect(() =>
      resolveForge({repoUrl: 'https://x.example/a/b', provider: 'bitbucket', env: {}})
    ).toThrow(UsageError)
    expect(() =>
      resolveForge({repoUrl: 'https://github.com/a/b', apiUrl: 'api.github.com', env: {}})
    ).toThrow(/--api-url/)
  })
})

const change = (over: Partial<PrChange> = {}): PrChange => ({
  file: 'apps/web/overlays/dev/kustomization.yaml',
  image: 'ghcr.io/acme/web',
  before: '1.0.0',
  after: '1.1.0',
  ...over
})

describe('branch names and templates', () => {
  it('are deterministic, valid refs, and bounded', () => {
    const ctx = {base: 'main', paths: ['apps/web/overlays/dev'], changes: []}
    expect(branchName(DEFAULT_BRANCH_TEMPLATE, ctx)).toBe(
      'gitops-deploy/main/apps/web/overlays/dev'
    )
    expect(
      branchName('deploy/{{path}}', {...ctx, paths: ['./apps/my app/..weird:dir/x.lock/']})
    ).toBe('deploy/apps/my-app/weird-dir/x-lock')
    const long = branchName('d/{{path}}', {...ctx, paths: ['a'.repeat(300)]})
    expect(long.length).toBeLessThanOrEqual(200)
    expect(long).toBe(branchName('d/{{path}}', {...ctx, paths: ['a'.repeat(300)]}))
    expect(long).not.toBe(branchName('d/{{path}}', {...ctx, paths: ['a'.repeat(299) + 'b']}))
    expect(() => branchName('{{pth}}', ctx)).toThrow(/unknown variable \{\{pth\}\}/)
  })

  it('title variables summarise the change', () => {
    const ctx = {base: 'main', paths: ['apps/web'], changes: [change()]}
    expect(renderTemplate('{{image}} -> {{tag}} ({{images}}) on {{base}}', ctx, '--title')).toBe(
      'ghcr.io/acme/web -> 1.1.0 (ghcr.io/acme/web:1.1.0) on main'
    )
  })
})

describe('PR body', () => {
  it('has a change table, compare links for commit tags, and a parseable hidden marker', () => {
    const source = sourceRepoFromEnv({
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'acme/web'
    })!
    const body = renderBody({
      intro: 'Release train 42',
      branch: 'b',
      base: 'main',
      source,
      changes: [
        change({before: 'main-1a2b3c4', after: 'main-9f8e7d6'}),
        change({image: undefined, key: 'replicas', before: '1', after: '2'})
      ]
    })
    expect(body.startsWith('Release train 42\n')).toBe(true)
    expect(body).toContain(
      '`main-1a2b3c4` → `main-9f8e7d6` ([compare](https://github.com/acme/web/compare/1a2b3c4...9f8e7d6))'
    )
    expect(body).toContain('| `replicas` | `1` → `2` |')
    expect(parseMarker(body)).toEqual({
      v: 1,
      branch: 'b',
      base: 'main',
      count: 2,
      changes: [
        {file: change().file, image: 'ghcr.io/acme/web', value: 'main-9f8e7d6'},
        {file: change().file, key: 'replicas', value: '2'}
      ]
    })
  })

  it('links GitLab compares, only for commit-like tags', () => {
    const gl = sourceRepoFromEnv({CI_PROJECT_URL: 'https://gitlab.com/acme/web'})!
    expect(compareLink(gl, 'sha-0123456789abcdef', 'sha-fedcba9876543210')).toBe(
      'https://gitlab.com/acme/web/-/compare/0123456789abcdef...fedcba9876543210'
    )
    expect(compareLink(gl, '1.0.0', '1.1.0')).toBeUndefined()
    expect(commitOfTag('v2-deadbee')).toBe('deadbee')
    expect(commitOfTag('2024.10.01')).toBeUndefined()
  })

  it('stays within 65,536 characters and keeps the marker intact', () => {
    const many = Array.from({length: 3000}, (_, i) =>
      change({file: `apps/app-${i}/overlays/dev/kustomization.yaml`})
    )
    const body = renderBody({branch: 'b', base: 'main', changes: many})
    expect(body.length).toBeLessThanOrEqual(BODY_LIMIT)
    expect(body).toContain('3000 changes in all')
    expect(parseMarker(body)).toMatchObject({branch: 'b', count: 3000})
  })

  it('a marker cannot be closed early by the data it carries', () => {
    const body = renderBody({
      branch: 'x-->y',
      base: 'main',
      changes: [change({after: '--><script>'})]
    })
    expect(body.slice(body.indexOf('<!-- gitops-deploy:')).match(/-->/g)).toHaveLength(1)
    expect(parseMarker(body)?.branch).toBe('x-->y')
  })
})
