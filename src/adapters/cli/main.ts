import {parseArgs} from 'node:util'
import {writeFileSync} from 'node:fs'
import {errorLine, errorMessage, exitCodeOf, UsageError} from '../../core/errors.js'
import {Redactor} from '../../core/redact.js'
import type {Platform} from '../../platform/port.js'
import type {CommandDefinition, Env, InputReader} from '../../commands/types.js'
import {commands, findCommand} from '../../commands/registry.js'
import {dotenvReport} from '../gitlab/dotenv.js'
import {VERSION} from '../../version.js'
import {withEnvInputs} from '../gitlab/env-inputs.js'
import {nameInputs} from '../input-names.js'
import {githubRunFromEnv} from './github-event.js'

export interface CliIo {
  stdout: (s: string) => void
  stderr: (s: string) => void
  env: Env
}

/** Options every command accepts on the command line. */
const COMMON = {
  json: {type: 'boolean', description: 'print one JSON object on stdout'},
  dotenv: {
    type: 'string',
    description: 'also write outputs as a GitLab dotenv report to this file'
  },
  'env-inputs': {
    type: 'boolean',
    description:
      'read options not given as flags from GITOPS_INPUT_<NAME> variables (lists as JSON arrays)'
  },
  help: {type: 'boolean', short: 'h', description: 'show this help'}
} as const

export function usage(def?: CommandDefinition): string {
  if (!def) {
    const lines = commands.map(c => `  ${c.name.padEnd(14)}${c.description}`)
    return `usage: gitops-deploy <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'gitops-deploy <command> --help' for a command's options.\n`
  }
  const opts = def.options
    .filter(o => !o.actionOnly)
    .map(o => {
      const flag = `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.type === 'boolean' ? '' : ' <value>'}${o.type === 'list' ? ' ...' : ''}`
      const dflt = o.default ? ` (default: ${o.default})` : ''
      return `  ${flag.padEnd(34)}${o.description}${dflt}`
    })
  for (const [name, o] of Object.entries(COMMON)) {
    const flag = `--${name}${o.type === 'string' ? ' <file>' : ''}`
    opts.push(`  ${flag.padEnd(34)}${o.description}`)
  }
  return `usage: gitops-deploy ${def.name} [options]\n\n${def.description}\n\noptions:\n${opts.join('\n')}\n`
}

function cliPlatform(io: CliIo, redactor: Redactor): Platform {
  const write = (s: string) => io.stderr(redactor.redact(s) + '\n')
  return {
    redactor,
    info: write,
    warning: m => write(`warning: ${m}`),
    debug: m => {
      if (io.env.GITOPS_DEBUG) write(`debug: ${m}`)
    },
    setSecret: v => redactor.add(v),
    group: async (name, fn) => {
      write(`==> ${name}`)
      return fn()
    }
  }
}

function readerFor(
  def: CommandDefinition,
  args: string[],
  env: Env = {}
): {
  input: InputReader
  json: boolean
  dotenv?: string
  help: boolean
  /** With --env-inputs: the options given as flags (the rest came from GITOPS_INPUT_*). */
  envInputs?: ReadonlySet<string>
} {
  const options: Record<string, {type: 'string' | 'boolean'; multiple?: boolean; short?: string}> =
    {}
  for (const o of def.options) {
    if (o.actionOnly) continue
    options[o.name] = {
      type: o.type === 'boolean' ? 'boolean' : 'string',
      multiple: o.type === 'list',
      ...(o.short ? {short: o.short} : {})
    }
  }
  for (const [name, o] of Object.entries(COMMON))
    options[name] = {type: o.type, ...('short' in o ? {short: o.short} : {})}
  let values: Record<string, unknown>
  try {
    ;({values} = parseArgs({args, options, allowPositionals: false, strict: true}))
  } catch (e) {
    throw new UsageError(
      `${errorMessage(e)}; run 'gitops-deploy ${def.name} --help' for the options`
    )
  }
  const input: InputReader = {
    string: n => {
      const v = values[n]
      return typeof v === 'string' ? v : undefined
    },
    list: n => {
      const v = values[n]
      return Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []
    },
    boolean: n => {
      const v = values[n]
      return typeof v === 'boolean' ? v : undefined
    }
  }
  return {
    // The GitLab component passes its inputs as variables, never spliced into the script.
    input: values['env-inputs'] === true ? withEnvInputs(input, def.options, env) : input,
    json: values.json === true,
    dotenv: values.dotenv as string | undefined,
    help: values.help === true,
    ...(values['env-inputs'] === true
      ? {envInputs: new Set(Object.keys(values).filter(k => values[k] !== undefined))}
      : {})
  }
}

/** Runs one CLI invocation and returns its exit code; never throws. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const redactor = new Redactor()
  for (const name of [
    'GITOPS_TOKEN',
    'ARGOCD_AUTH_TOKEN',
    'GITHUB_TOKEN',
    'GITLAB_TOKEN',
    'CI_JOB_TOKEN'
  ]) {
    redactor.add(io.env[name])
  }
  const platform = cliPlatform(io, redactor)
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage())
    return name ? 0 : 2
  }
  if (name === '--version') {
    io.stdout(`${VERSION}\n`)
    return 0
  }
  const def = findCommand(name)
  if (!def) {
    io.stderr(
      `error: unknown command '${name}'; use one of: ${commands.map(c => c.name).join(', ')}\n`
    )
    return 2
  }
  let parsed: ReturnType<typeof readerFor> | undefined
  try {
    parsed = readerFor(def, rest, io.env)
    if (parsed.help) {
      io.stdout(usage(def))
      return 0
    }
    const settings = def.settings(
      parsed.input,
      io.env,
      platform,
      githubRunFromEnv(io.env, platform)
    )
    const result = await def.run(settings, platform)
    if (parsed.json) io.stdout(redactor.redact(JSON.stringify(def.json(result), null, 2)) + '\n')
    else {
      const text = def.text(result)
      if (text) io.stdout(redactor.redact(text.endsWith('\n') ? text : text + '\n'))
    }
    if (parsed.dotenv) {
      const report = dotenvReport(def.outputs(result), redactor)
      writeFileSync(parsed.dotenv, report.text)
      if (report.dropped.length > 0) {
        platform.warning(
          `dotenv report: left out ${report.dropped.join(', ')} to stay within GitLab's limits (under 5 KB, 20 variables); read them from --json instead`
        )
      }
    }
    return def.exitCode?.(result) ?? 0
  } catch (e) {
    let text = redactor.redact(errorMessage(e))
    // In a GitLab job (--env-inputs) the user set component inputs, not flags: name those.
    if (parsed?.envInputs) text = nameInputs(text, def.options, parsed.envInputs)
    const message = text.split('\n')
    io.stderr(
      `error: ${errorLine(message[0])}\n${message
        .slice(1)
        .map(l => `  ${l}\n`)
        .join('')}`
    )
    if (io.env.GITOPS_DEBUG && e instanceof Error && e.stack)
      io.stderr(redactor.redact(e.stack) + '\n')
    return exitCodeOf(e)
  }
}
