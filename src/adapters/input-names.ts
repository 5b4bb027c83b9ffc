import type {OptionSpec} from '../commands/types.js'
import {envInputName} from './gitlab/env-inputs.js'

/**
 * Commands write their messages for the CLI, naming flags (`--path`, and `GITOPS_INPUT_PATH` for
 * a component input that failed to parse). In the Action and the GitLab component the user wrote
 * an input (`path`), so those adapters rewrite the command's own option names through this one
 * function instead of every message knowing where it runs. `keep` lists options the user did
 * give as flags (the CLI with --env-inputs), which stay `--name`.
 */
export function nameInputs(
  message: string,
  options: readonly OptionSpec[],
  keep: ReadonlySet<string> = new Set()
): string {
  const names = options
    .filter(o => !o.cliOnly && !keep.has(o.name))
    .map(o => o.name)
    // Longest first, so --pr-branch is not read as --pr.
    .sort((a, b) => b.length - a.length)
  if (names.length === 0) return message
  const flag = new RegExp(`(?<![\\w-])--(${names.map(escape).join('|')})(?![\\w-])`, 'g')
  const byVariable = new Map(names.map(n => [envInputName(n), n]))
  const variable = new RegExp(`\\b(${[...byVariable.keys()].join('|')})\\b`, 'g')
  return message
    .replace(flag, (_, name: string) => `'${name}' input`)
    .replace(variable, (_, v: string) => `'${byVariable.get(v)}' input`)
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
