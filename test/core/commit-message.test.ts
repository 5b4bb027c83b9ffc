import {describe, expect, it} from 'vitest'
import {
  ciSourceFromEnv,
  IMAGE_PLACEHOLDERS,
  messageTemplateCheck,
  renderCommitMessage,
  validateMessageTemplate,
  versionOf,
  type MessageInput
} from '../../src/core/commit-message.js'
import {UsageError} from '../../src/core/errors.js'

const input = (over: Partial<MessageInput> = {}): MessageInput => ({
  changes: [
    {
      file: 'apps/web/overlays/prod/kustomization.yaml',
      name: 'ghcr.io/acme/web',
      kind: 'image',
      before: 'ghcr.io/acme/web:1.4.0',
      after: 'ghcr.io/acme/web:1.5.0'
    },
    {
      file: 'apps/web/overlays/prod/kustomization.yaml',
      name: 'ghcr.io/acme/web-migrations',
      kind: 'image',
      before: null,
      after: 'ghcr.io/acme/web-migrations:1.5.0'
    }
  ],
  paths: ['apps/web/overlays/prod'],
  branch: 'main',
  source: {
    repo: 'https://github.com/acme/web',
    commit: '0123456789abcdef0123456789abcdef01234567',
    actor: 'octocat',
    runUrl: 'https://github.com/acme/web/actions/runs/42'
  },
  ...over
})

describe('renderCommitMessage default', () => {
  it('names apps and tags, lists old -> new per file, adds source trailers', () => {
    expect(renderCommitMessage(undefined, input())).toBe(
      [
        'Deploy web:1.5.0, web-migrations:1.5.0',
        '',
        'apps/web/overlays/prod/kustomization.yaml',
        '  ghcr.io/acme/web: ghcr.io/acme/web:1.4.0 -> ghcr.io/acme/web:1.5.0',
        '  ghcr.io/acme/web-migrations: (none) -> ghcr.io/acme/web-migrations:1.5.0',
        '',
        'Source-Repo: https://github.com/acme/web',
        'Source-Commit: 0123456789abcdef0123456789abcdef01234567',
        ''
      ].join('\n')
    )
  })

  it('omits trailers that are unknown and caps the subject', () => {
    const many = Array.from({length: 5}, (_, i) => ({
      file: `apps/a${i}/kustomization.yaml`,
      name: `ghcr.io/acme/a${i}`,
      kind: 'image' as const,
      before: '1',
      after: `ghcr.io/acme/a${i}@sha256:${'ab'.repeat(32)}`
    }))
    const msg = renderCommitMessage(undefined, input({changes: many, source: {}}))
    expect(msg.split('\n')[0]).toBe(
      'Deploy a0:sha256:abababababab, a1:sha256:abababababab, a2:sha256:abababababab and 2 more'
    )
    expect(msg).not.toContain('Source-')
  })

  it('describes --set key edits', () => {
    const msg = renderCommitMessage(
      undefined,
      input({
        changes: [
          {file: 'helm/values.yaml', name: 'image.tag', kind: 'key', before: '1.0', after: '1.1'}
        ]
      })
    )
    expect(msg.split('\n')[0]).toBe('Set image.tag=1.1 in helm/values.yaml')
    expect(msg).toContain('  image.tag: 1.0 -> 1.1')
  })
})

describe('renderCommitMessage template', () => {
  it('substitutes placeholders and \\n, leaving single braces alone', () => {
    const msg = renderCommitMessage(
      'chore({{apps}}): {{ tags }} to {{branch}} by {{actor}}\\n\\n{literal} {{source_short_commit}}\\n{{run_url}}\\n\\n{{trailers}}',
      input()
    )
    expect(msg).toBe(
      'chore(web, web-migrations): 1.5.0 to main by octocat\n\n{literal} 0123456789ab\nhttps://github.com/acme/web/actions/runs/42\n\nSource-Repo: https://github.com/acme/web\nSource-Commit: 0123456789abcdef0123456789abcdef01234567\n'
    )
  })

  it('leaves no blank runs when CI values are missing', () => {
    expect(
      renderCommitMessage('{{subject}}\n\n{{actor}}\n\n\n{{changes}}', input({source: {}}))
    ).toBe(renderCommitMessage('{{subject}}\n\n{{changes}}', input({source: {}})))
  })

  it('rejects unknown placeholders with the list of valid ones', () => {
    expect(() => validateMessageTemplate('deploy {{app}}')).toThrow(UsageError)
    expect(() => validateMessageTemplate('deploy {{app}}')).toThrow(
      /unknown placeholder \{\{app\}\}.*\{\{apps\}\}/
    )
    expect(() => validateMessageTemplate('deploy {app} {{ apps }}')).not.toThrow()
  })

  it('rejects a template that renders empty', () => {
    expect(() => renderCommitMessage('{{actor}}', input({source: {}}))).toThrow(
      /empty commit message/
    )
  })
})

describe('ciSourceFromEnv', () => {
  it('reads GitHub Actions variables', () => {
    expect(
      ciSourceFromEnv({
        GITHUB_REPOSITORY: 'acme/web',
        GITHUB_SERVER_URL: 'https://ghe.example.com',
        GITHUB_SHA: 'abc',
        GITHUB_ACTOR: 'me',
        GITHUB_RUN_ID: '7'
      })
    ).toEqual({
      repo: 'https://ghe.example.com/acme/web',
      commit: 'abc',
      actor: 'me',
      runUrl: 'https://ghe.example.com/acme/web/actions/runs/7'
    })
  })
  it('reads GitLab CI variables', () => {
    expect(
      ciSourceFromEnv({
        CI_PROJECT_URL: 'https://gitlab.com/acme/web',
        CI_COMMIT_SHA: 'def',
        GITLAB_USER_LOGIN: 'you',
        CI_PIPELINE_URL: 'https://gitlab.com/acme/web/-/pipelines/9'
      })
    ).toEqual({
      repo: 'https://gitlab.com/acme/web',
      commit: 'def',
      actor: 'you',
      runUrl: 'https://gitlab.com/acme/web/-/pipelines/9'
    })
  })
  it('is empty outside CI', () => {
    expect(ciSourceFromEnv({})).toEqual({})
  })
})

describe('versionOf', () => {
  it('finds tags after a registry port', () => {
    expect(versionOf('localhost:5000/web:2.0')).toBe('2.0')
    expect(versionOf('localhost:5000/web')).toBe('localhost:5000/web')
    expect(versionOf('3.1')).toBe('3.1')
  })
})

describe('control characters in values', () => {
  const forged: MessageInput = input({
    changes: [
      {
        file: 'values.yaml',
        name: 'image.tag',
        kind: 'key',
        before: '1.0',
        after: '1.1\nSigned-off-by: Mallory <m@example.com>\rSource-Commit: bad\u2028x'
      }
    ],
    branch: 'main\nSource-Repo: https://evil.example'
  })

  it('are escaped in the default message: a value never starts a line (no forged trailer)', () => {
    const text = renderCommitMessage(undefined, forged)
    const lines = text.split('\n')
    expect(
      lines.some(
        l => /^(Signed-off-by|Source-Commit|Source-Repo):/.test(l) && /bad|Mallory|evil/.test(l)
      )
    ).toBe(false)
    expect(text).toContain(
      '1.1\\nSigned-off-by: Mallory <m@example.com>\\rSource-Commit: bad\\u2028x'
    )
    expect(text).not.toMatch(/[\r\u2028]/)
  })

  it('are escaped where a template interpolates them; the template’s own line breaks stay', () => {
    const text = renderCommitMessage('{{subject}}\\n\\nbranch {{branch}}', forged)
    expect(text).toContain('branch main\\nSource-Repo: https://evil.example\n')
    expect(text.split('\n').some(l => l.startsWith('Source-Repo:'))).toBe(false)
    expect(text.split('\n')[1]).toBe('')
  })
})

describe('messageTemplateCheck', () => {
  it('refuses the placeholders a command cannot fill, naming the ones it can', () => {
    const check = messageTemplateCheck('argo-app', IMAGE_PLACEHOLDERS)
    expect(() => check('Deploy {{tags}}')).toThrow(
      /^--message uses \{\{tags\}\}, which argo-app cannot fill \(it sets no images\); use one of \{\{subject\}\}, \{\{changes\}\}, /
    )
    expect(() => check('{{subject}} on {{branch}}')).not.toThrow()
    expect(() => check('{{nope}}')).toThrow(/unknown placeholder \{\{nope\}\}/)
  })
})
