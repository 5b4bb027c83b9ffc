import {describe, expect, it} from 'vitest'
import {nameInputs} from '../../src/adapters/input-names.js'
import {errorLine} from '../../src/core/errors.js'
import type {OptionSpec} from '../../src/commands/types.js'

const options: OptionSpec[] = [
  {name: 'pr', type: 'boolean', description: ''},
  {name: 'pr-branch', type: 'string', description: ''},
  {name: 'mode', type: 'string', description: ''},
  {name: 'path', type: 'list', description: ''},
  {name: 'root', short: 'C', type: 'string', description: '', cliOnly: true}
]

describe('nameInputs (adapter translation of option names in messages)', () => {
  it('names the input for each of the command own flags, longest name first', () => {
    expect(
      nameInputs('--pr-branch only applies to --mode pr; drop it or use --mode pr', options)
    ).toBe("'pr-branch' input only applies to 'mode' input pr; drop it or use 'mode' input pr")
  })

  it('names the input for the GITOPS_INPUT_* variable of a component input', () => {
    expect(
      nameInputs('GITOPS_INPUT_PATH is not a valid JSON array (x); pass a list', options)
    ).toBe("'path' input is not a valid JSON array (x); pass a list")
  })

  it('leaves CLI-only flags, unknown flags, flags given on the command line and look-alikes alone', () => {
    const text = 'check --root, --repo, --mode and --modes; see https://x/--path-y'
    expect(nameInputs(text, options, new Set(['mode']))).toBe(text)
  })
})

describe('errorLine', () => {
  it('drops error: prefixes the adapter would double', () => {
    expect(errorLine('error: error: commit abc is not verified')).toBe('commit abc is not verified')
    expect(errorLine('errors in 2 files')).toBe('errors in 2 files')
  })
})
