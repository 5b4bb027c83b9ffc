/**
 * When a string must be quoted to read back as the same string. Kustomize and
 * Helm read YAML with go-yaml v2 (YAML 1.1 rules: `yes`, `on`, `1:20`), most
 * other tools with YAML 1.2 (`1e3`, `0o17`); a value is written bare only when
 * every one of those readers sees a string, because a tag that turns into a
 * number (`1.10` -> 1.1) deploys the wrong image.
 */

export type ScalarKind = 'null' | 'bool' | 'int' | 'float' | 'string'
export type QuoteStyle = 'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE'

const V2_MAP: Record<string, ScalarKind> = {}
for (const s of ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'])
  V2_MAP[s] = 'bool'
for (const s of ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'])
  V2_MAP[s] = 'bool'
for (const s of ['', '~', 'null', 'Null', 'NULL']) V2_MAP[s] = 'null'
for (const s of [
  '.nan',
  '.NaN',
  '.NAN',
  '.inf',
  '.Inf',
  '.INF',
  '+.inf',
  '+.Inf',
  '+.INF',
  '-.inf',
  '-.Inf',
  '-.INF'
]) {
  V2_MAP[s] = 'float'
}

const GO_INT = /^[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/
const GO_YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/
const GO_DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/
const GO_TIMESTAMP_PREFIX = /^[0-9]{4}-/

/**
 * The type go-yaml v2 (sigs.k8s.io/yaml, used by kustomize and Helm) gives a
 * plain scalar. Timestamps stay strings there when decoded into interface{}.
 */
export function goYamlV2Kind(plain: string): ScalarKind {
  if (plain in V2_MAP) return V2_MAP[plain]
  const c = plain[0]
  if (c === '.') return GO_DOT_FLOAT.test(plain) ? 'float' : 'string'
  if (c === '+' || c === '-' || (c >= '0' && c <= '9')) {
    if (GO_TIMESTAMP_PREFIX.test(plain)) return 'string'
    const digits = plain.replace(/_/g, '')
    if (GO_INT.test(digits)) return 'int'
    if (GO_YAML_FLOAT.test(digits)) return 'float'
  }
  return 'string'
}

const Y11_BOOL =
  /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/
const Y11_NULL = /^(~|null|Null|NULL|)$/
const Y11_INT =
  /^([-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+)$/
const Y11_FLOAT =
  /^([-+]?([0-9][0-9_]*)\.[0-9_]*([eE][-+][0-9]+)?|\.[0-9][0-9_]*([eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$/
const Y11_TIMESTAMP =
  /^([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]*)?([ \t]*(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?)$/
const Y11_SPECIAL = /^(=|<<)$/

/** The type under the YAML 1.1 type repository (PyYAML and friends). */
export function yaml11Kind(plain: string): ScalarKind | 'timestamp' {
  if (Y11_NULL.test(plain)) return 'null'
  if (Y11_BOOL.test(plain)) return 'bool'
  if (Y11_INT.test(plain)) return 'int'
  if (Y11_FLOAT.test(plain)) return 'float'
  if (Y11_TIMESTAMP.test(plain)) return 'timestamp'
  if (Y11_SPECIAL.test(plain)) return 'null'
  return 'string'
}

const Y12_INT = /^([-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/
const Y12_FLOAT =
  /^([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/

/** The type under the YAML 1.2 core schema (the `yaml` package, most new tools). */
export function yaml12Kind(plain: string): ScalarKind {
  if (Y11_NULL.test(plain)) return 'null'
  if (/^(true|True|TRUE|false|False|FALSE)$/.test(plain)) return 'bool'
  if (Y12_INT.test(plain)) return 'int'
  if (Y12_FLOAT.test(plain)) return 'float'
  return 'string'
}

/** True when some common reader would see a plain `value` as a non-string. */
export function readsAsNonString(value: string): boolean {
  return (
    goYamlV2Kind(value) !== 'string' ||
    yaml11Kind(value) !== 'string' ||
    yaml12Kind(value) !== 'string'
  )
}

// Printable characters a plain or single-quoted scalar may hold on one line.
const UNPRINTABLE = /[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029\ufeff]/

/** True when `value` cannot be written bare in that context at all (syntax, not type). */
export function plainSyntaxUnsafe(value: string, flow: boolean): boolean {
  if (value === '') return true
  if (UNPRINTABLE.test(value) || value.includes('\t')) return true
  if (/^\s|\s$/.test(value)) return true
  if (/^[,[\]{}#&*!|>'"%@`]/.test(value)) return true
  if (/^[-?:](\s|$)/.test(value)) return true
  if (/^(---|\.\.\.)(\s|$)/.test(value)) return true
  if (value.includes(': ') || value.includes(' #') || value.endsWith(':')) return true
  if (flow && /[,[\]{}]/.test(value)) return true
  return false
}

/** True when `value` must be quoted to read back as this exact string. */
export function needsQuotes(value: string, flow = false): boolean {
  return plainSyntaxUnsafe(value, flow) || readsAsNonString(value)
}

export function doubleQuoted(value: string): string {
  return JSON.stringify(value).replace(
    /[\u0085\u2028\u2029]/g,
    c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  )
}

export function singleQuoted(value: string): string {
  return `'${value.replace(/'/g, "''")}'`
}

/** Source text for a string value: bare when safe, else double quotes (kustomize's choice). */
export function renderString(value: string, flow = false): string {
  return needsQuotes(value, flow) ? doubleQuoted(value) : value
}

/**
 * Source text for a string that replaces a scalar written in `style`: the
 * author's quoting is kept whenever it can still hold the value.
 */
export function renderStringInStyle(
  value: string,
  style: string | undefined,
  flow = false
): string {
  if (style === 'QUOTE_DOUBLE') return doubleQuoted(value)
  if (style === 'QUOTE_SINGLE' && !UNPRINTABLE.test(value)) return singleQuoted(value)
  return renderString(value, flow)
}
