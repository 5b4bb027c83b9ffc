import {describe, expect, it} from 'vitest'
import {envInputName, parseEnvList, withEnvInputs} from '../../src/adapters/gitlab/env-inputs.js'
import type {InputReader, OptionSpec} from '../../src/commands/types.js'
import {UsageError} from '../../src/core/errors.js'
import {cli} from '../helpers/cli.js'
import {fakeToken} from '../helpers/fake-token.js'

const options: OptionSpec[] = [
  {name: 'repo', type: 'string', description: 'config repo'},
  {name: 'path', type: 'list', description: 'paths'},
  {name: 'dry-run', type: 'boolean', description: 'do nothing'},
  {name: 'token', type: 'string', description: 'action only', actionOnly: true}
]

const noFlags: InputReader = {string: () => undefined, list: () => [], boolean: () => undefined}

describe('GITOPS_INPUT_* variables (how the GitLab component passes inputs)', () => {
  it('names the variable after the option', () => {
    expect(envInputName('dry-run')).toBe('GITOPS_INPUT_DRY_RUN')
    expect(envInputName('auto-merge')).toBe('GITOPS_INPUT_AUTO_MERGE')
  })

  it('reads block-scalar values as GitLab renders them: JSON arrays, booleans, strings, each with a final newline', () => {
    const input = withEnvInputs(noFlags, options, {
      GITOPS_INPUT_REPO: 'https://gitlab.example.com/acme/config.git\n',
      GITOPS_INPUT_PATH: '["apps/web/overlays/dev","apps/api/overlays/dev"]\n',
      GITOPS_INPUT_DRY_RUN: 'true\n'
    })
    expect(input.string('repo')).toBe('https://gitlab.example.com/acme/config.git')
    expect(input.list('path')).toEqual(['apps/web/overlays/dev', 'apps/api/overlays/dev'])
    expect(input.boolean('dry-run')).toBe(true)
  })

  it('treats empty values as not given, so defaults apply', () => {
    const input = withEnvInputs(noFlags, options, {
      GITOPS_INPUT_REPO: '\n',
      GITOPS_INPUT_PATH: '[]\n',
      GITOPS_INPUT_DRY_RUN: ''
    })
    expect(input.string('repo')).toBeUndefined()
    expect(input.list('path')).toEqual([])
    expect(input.boolean('dry-run')).toBeUndefined()
  })

  it('keeps quotes, colons and spaces inside values (nothing goes through a shell)', () => {
    const input = withEnvInputs(noFlags, options, {
      GITOPS_INPUT_REPO: `it's "quoted": $(rm -rf /) #x`,
      GITOPS_INPUT_PATH: JSON.stringify(['a b/c', "it's", '"q"', '$(id)'])
    })
    expect(input.string('repo')).toBe(`it's "quoted": $(rm -rf /) #x`)
    expect(input.list('path')).toEqual(['a b/c', "it's", '"q"', '$(id)'])
  })

  it('accepts one value per line, and JSON-array lines mixed with plain lines', () => {
    expect(parseEnvList('V', 'a\n\n  b  \n')).toEqual(['a', 'b'])
    expect(parseEnvList('V', 'web=reg/web:1\n["api=reg/api:2","db=reg/db:3"]\n')).toEqual([
      'web=reg/web:1',
      'api=reg/api:2',
      'db=reg/db:3'
    ])
    expect(parseEnvList('V', '[abc]/**')).toEqual(['[abc]/**'])
    expect(parseEnvList('V', '[1, 2]')).toEqual(['1', '2'])
  })

  it('rejects nested arrays and non-boolean booleans with the variable name and the fix', () => {
    expect(() => parseEnvList('GITOPS_INPUT_PATH', '[["a"]]')).toThrow(UsageError)
    expect(() => parseEnvList('GITOPS_INPUT_PATH', '[["a"]]')).toThrow(/GITOPS_INPUT_PATH .*flat array of strings/)
    const input = withEnvInputs(noFlags, options, {GITOPS_INPUT_DRY_RUN: 'maybe'})
    expect(() => input.boolean('dry-run')).toThrow(/GITOPS_INPUT_DRY_RUN is 'maybe', not a boolean; set the input to true or false/)
  })

  it('lets flags win over variables', () => {
    const flags: InputReader = {
      string: n => (n === 'repo' ? 'file:///flag' : undefined),
      list: n => (n === 'path' ? ['flag/path'] : []),
      boolean: n => (n === 'dry-run' ? true : undefined)
    }
    const input = withEnvInputs(flags, options, {
      GITOPS_INPUT_REPO: 'file:///env',
      GITOPS_INPUT_PATH: '["env/path"]',
      GITOPS_INPUT_DRY_RUN: 'false'
    })
    expect(input.string('repo')).toBe('file:///flag')
    expect(input.list('path')).toEqual(['flag/path'])
    expect(input.boolean('dry-run')).toBe(true)
  })

  it('never reads action-only options (such as a token) from variables', () => {
    const input = withEnvInputs(noFlags, options, {GITOPS_INPUT_TOKEN: fakeToken('glpat-', 'secret')})
    expect(input.string('token')).toBeUndefined()
  })

  it('is off unless --env-inputs is given, and is listed in every command help', async () => {
    const {code, stdout} = await cli(['changes', '--help'])
    expect(code).toBe(0)
    expect(stdout).toContain('--env-inputs')
  })
})
