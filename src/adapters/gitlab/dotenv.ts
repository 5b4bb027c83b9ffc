import type {Redactor} from '../../core/redact.js'
import type {Outputs} from '../../commands/types.js'

/** GitLab's dotenv report accepts at most 5 KB in all. */
export const DOTENV_LIMIT = 5 * 1024

/** `pr-url` -> `GITOPS_PR_URL`; GitLab keys may only hold [A-Za-z0-9_]. */
export function dotenvKey(output: string): string {
  return `GITOPS_${output.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}`
}

/**
 * GitLab rejects the whole report for a multi-line value, so values are
 * flattened; values that would push the report past the limit are dropped
 * (with the key kept empty is worse than absent: a later job can test for it).
 */
export function toDotenv(outputs: Outputs, redactor?: Redactor): string {
  let text = ''
  for (const [k, raw] of Object.entries(outputs)) {
    const value = (redactor ? redactor.redact(raw) : raw).replace(/[\r\n]+/g, ' ').trim()
    const line = `${dotenvKey(k)}=${value}\n`
    if (Buffer.byteLength(text + line) > DOTENV_LIMIT) continue
    text += line
  }
  return text
}
