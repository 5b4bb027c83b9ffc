import {describe, expect, it} from 'vitest'
import {UsageError} from '../../src/core/errors.js'
import {argoAppCommand} from '../../src/commands/argo-app.js'
import {promoteCommand} from '../../src/commands/promote.js'
import {setImageCommand} from '../../src/commands/set-image.js'
import {
  DEFAULT_MAX_ATTEMPTS,
  parseAuthor,
  parseMaxAttempts,
  type DeliverySettings
} from '../../src/delivery/options.js'
import type {InputReader} from '../../src/platform/inputs.js'
import {cli} from '../helpers/cli.js'

/** Flags as the CLI parser hands them over: strings, repeatable lists, booleans. */
function reader(flags: Record<string, string | string[] | true>): InputReader {
  return {
    string: n => (typeof flags[n] === 'string' ? (flags[n] as string) : undefined),
    list: n => {
      const v = flags[n]
      return Array.isArray(v) ? v : typeof v === 'string' ? [v] : []
    },
    boolean: n => (flags[n] === true ? true : undefined)
  }
}

const TOKEN_ENV = {GITOPS_TOKEN: 'ghs_optionsTestToken000000000000000000'}
const REPO = 'https://github.com/acme/config.git'
const platform = {warning: () => undefined} as never

function setImage(flags: Record<string, string | string[] | true>): DeliverySettings {
  return setImageCommand.settings(
    reader({path: 'apps/web', image: 'web:1', ...flags}),
    TOKEN_ENV,
    platform
  ).delivery
}

function argoApp(flags: Record<string, string | string[] | true>): DeliverySettings {
  return argoAppCommand.settings(
    reader({
      app: 'web',
      project: 'default',
      path: 'apps/web',
      revision: 'main',
      'dest-server': 'https://kubernetes.default.svc',
      'dest-namespace': 'web',
      'source-repo': REPO,
      ...flags
    }),
    TOKEN_ENV,
    platform
  ).delivery
}

function promote(flags: Record<string, string | string[] | true>): DeliverySettings {
  return promoteCommand.settings(
    reader({repo: REPO, from: 'dev', to: 'prod', ...flags}),
    TOKEN_ENV,
    platform
  ).delivery
}

function usage(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError)
    return (e as Error).message
  }
  throw new Error('expected a UsageError')
}

describe('the delivery flags mean the same in every command', () => {
  it('set-image --mode pr uses --max-attempts, --message (PR commit subject) and --branch (the base)', () => {
    const d = setImage({
      mode: 'pr',
      repo: REPO,
      'max-attempts': '8',
      message: 'Deploy {{images}}',
      branch: 'main'
    })
    expect(d).toMatchObject({
      mode: 'pr',
      maxAttempts: 8,
      message: 'Deploy {{images}}',
      base: 'main'
    })
  })

  it('--branch and --base that differ in PR mode are refused', () => {
    for (const read of [setImage, argoApp, promote]) {
      expect(usage(() => read({mode: 'pr', repo: REPO, branch: 'main', base: 'release'}))).toMatch(
        /^--branch 'main' and --base 'release' differ; in PR mode they name the same branch/
      )
    }
  })

  it('one --max-attempts: 1 to 100, default 10, in push and PR mode of every command', () => {
    for (const read of [setImage, argoApp, promote]) {
      for (const mode of ['push', 'pr']) {
        const d = read({mode, repo: REPO})
        expect(d.mode === 'local' ? undefined : d.maxAttempts).toBe(DEFAULT_MAX_ATTEMPTS)
      }
      expect(usage(() => read({mode: 'push', repo: REPO, 'max-attempts': '101'}))).toMatch(
        /^--max-attempts must be a whole number from 1 to 100, got "101"/
      )
    }
    expect(DEFAULT_MAX_ATTEMPTS).toBe(10)
    expect(parseMaxAttempts('100')).toBe(100)
    expect(() => parseMaxAttempts('0')).toThrow(UsageError)
    expect(() => parseMaxAttempts('2.5')).toThrow(UsageError)
  })

  it('one --author rule: Name <email>, blank means the bot', () => {
    expect(parseAuthor('Deploy Bot <bot@example.com>')).toEqual({
      name: 'Deploy Bot',
      email: 'bot@example.com'
    })
    expect(parseAuthor('  ')).toEqual({
      name: 'gitops-deploy',
      email: 'gitops-deploy@users.noreply.github.com'
    })
    for (const read of [setImage, argoApp, promote]) {
      expect(usage(() => read({mode: 'push', repo: REPO, author: '<bot@example.com>'}))).toMatch(
        /^--author '<bot@example.com>' is not "Name <email>"/
      )
    }
  })

  it('PR flags in push mode are refused in every command', () => {
    const prOnly: Record<string, string | string[] | true>[] = [
      {'pr-branch': 'x'},
      {title: 't'},
      {body: 'b'},
      {labels: ['l']},
      {reviewers: ['alice']},
      {'team-reviewers': ['team']},
      {assignees: ['bob']},
      {draft: true},
      {'auto-merge': 'squash'}
    ]
    for (const read of [setImage, argoApp, promote]) {
      for (const flag of prOnly) {
        const name = Object.keys(flag)[0]
        expect(usage(() => read({mode: 'push', repo: REPO, ...flag}))).toBe(
          `--${name} only applies to --mode pr; drop it or use --mode pr`
        )
      }
    }
  })

  it('--auto-merge takes the methods the GitLab component offers, and refuses others', () => {
    const auto = setImageCommand.options.find(o => o.name === 'auto-merge')!
    for (const method of auto.choices!) {
      expect(setImage({mode: 'pr', repo: REPO, 'auto-merge': method})).toMatchObject({
        autoMerge: method
      })
    }
    expect(usage(() => setImage({mode: 'pr', repo: REPO, 'auto-merge': 'ff'}))).toBe(
      "--auto-merge 'ff' is not known; use merge, squash or rebase"
    )
  })

  it('promote keeps --base as the push branch (it always meant that)', () => {
    expect(promote({mode: 'push', base: 'release'})).toMatchObject({
      mode: 'push',
      branch: 'release'
    })
    expect(usage(() => setImage({repo: REPO, base: 'release'}))).toMatch(
      /^--base only applies to --mode pr/
    )
  })

  it('without --repo, every remote flag is refused (set-image and argo-app edit under -C)', () => {
    const remoteOnly: Record<string, string | string[] | true>[] = [
      {branch: 'main'},
      {message: 'm'},
      {'max-attempts': '3'},
      {author: 'Bot <bot@example.com>'},
      {transport: 'api'},
      {'require-verified': true},
      {provider: 'github'},
      {'api-url': 'https://api.github.com'},
      {labels: ['l']},
      {'pr-branch': 'x'}
    ]
    for (const read of [setImage, argoApp]) {
      expect(read({})).toMatchObject({mode: 'local', dryRun: false})
      for (const flag of remoteOnly) {
        const name = Object.keys(flag)[0]
        expect(usage(() => read(flag))).toBe(
          `--${name} only applies with --repo; add --repo <url> or drop --${name}`
        )
      }
    }
  })

  it('--dry-run is refused in PR mode, and -C with --repo, in every command that has them', () => {
    for (const read of [setImage, argoApp, promote]) {
      expect(usage(() => read({mode: 'pr', repo: REPO, 'dry-run': true}))).toMatch(
        /^--dry-run applies to --mode push/
      )
    }
    for (const read of [setImage, argoApp]) {
      expect(usage(() => read({mode: 'pr', repo: REPO, root: '.'}))).toMatch(
        /^-C\/--root and --repo exclude each other/
      )
    }
  })

  it('a refused flag is exit 2 with one line naming it, through the CLI', async () => {
    const r = await cli(
      ['set-image', '--repo', REPO, '--path', 'apps/web', '--image', 'web:1', '--labels', 'x'],
      TOKEN_ENV
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('error: --labels only applies to --mode pr; drop it or use --mode pr\n')
  })
})
