import {UsageError} from '../../core/errors.js'
import type {Env, InputReader, OptionSpec} from '../../platform/inputs.js'

/**
 * The GitLab component hands its inputs to the CLI through job variables,
 * never through the script: a value spliced into a shell line would be
 * parsed by the shell, and GitLab has no way to turn an `array` input into
 * repeated flags. Each option `--kebab-name` reads `GITOPS_INPUT_KEBAB_NAME`.
 */
export const ENV_INPUT_PREFIX = 'GITOPS_INPUT_'

export function envInputName(option: string): string {
  return `${ENV_INPUT_PREFIX}${option.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}`
}

const TRUE = new Set(['true', 'yes', '1', 'on'])
const FALSE = new Set(['false', 'no', '0', 'off'])

/**
 * An `array` input interpolated into a string arrives as JSON
 * (`["a","b"]`); a hand-written variable may list one value per line, and
 * the two mix (the set-image component writes its single `image` input and
 * its `images` array into one variable). GitLab's variable expansion has
 * already replaced `$VAR` references.
 */
export function parseEnvList(variable: string, raw: string): string[] {
  const values: string[] = []
  for (const line of raw.split(/\r?\n/)) {
    const text = line.trim()
    if (!text) continue
    const items = text.startsWith('[') ? jsonArray(variable, text) : undefined
    if (items) values.push(...items)
    else values.push(text)
  }
  return values
}

/** A line that is a JSON array, or undefined for a literal such as the glob `[ab]c/**`. */
function jsonArray(variable: string, text: string): string[] | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    if (!text.startsWith('["')) return undefined
    throw new UsageError(
      `${variable} is not a valid JSON array (${(e as Error).message}); pass a list input as a YAML array, e.g. [a, b], or one value per line`
    )
  }
  if (!Array.isArray(parsed)) return undefined
  if (parsed.some(v => v !== null && typeof v === 'object')) {
    throw new UsageError(
      `${variable} must be a flat array of strings; pass a list input as a YAML array of strings, e.g. [a, b]`
    )
  }
  return parsed.filter(v => v !== null && String(v).trim() !== '').map(v => String(v).trim())
}

export function parseEnvBoolean(variable: string, raw: string): boolean | undefined {
  const text = raw.trim().toLowerCase()
  if (!text) return undefined
  if (TRUE.has(text)) return true
  if (FALSE.has(text)) return false
  throw new UsageError(`${variable} is '${raw.trim()}', not a boolean; set the input to true or false`)
}

/**
 * Options given as flags win; every other option falls back to its
 * variable. Surrounding whitespace is dropped because the component writes
 * each value as a YAML block scalar, which keeps a final newline.
 */
export function withEnvInputs(flags: InputReader, options: OptionSpec[], env: Env): InputReader {
  const known = new Set(options.filter(o => !o.actionOnly).map(o => o.name))
  const raw = (name: string): string | undefined => (known.has(name) ? env[envInputName(name)] : undefined)
  return {
    string: name => {
      const given = flags.string(name)
      if (given !== undefined) return given
      const value = raw(name)?.trim()
      return value ? value : undefined
    },
    list: name => {
      const given = flags.list(name)
      if (given.length > 0) return given
      const value = raw(name)
      return value === undefined ? [] : parseEnvList(envInputName(name), value)
    },
    boolean: name => {
      const given = flags.boolean(name)
      if (given !== undefined) return given
      const value = raw(name)
      return value === undefined ? undefined : parseEnvBoolean(envInputName(name), value)
    }
  }
}
