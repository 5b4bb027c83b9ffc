import type {Redactor} from '../../core/redact.js'
import type {Outputs} from '../../platform/inputs.js'

/**
 * GitLab's dotenv report must be smaller than 5 KB (`file.size <
 * dotenv_size_limit` in `Ci::ParseDotenvArtifactService`), so the last
 * byte counts: the budget is 5119 bytes.
 */
export const DOTENV_LIMIT = 5 * 1024 - 1

/**
 * Self-managed instances default to 20 inherited variables per report
 * (plan limit `dotenv_variables`); a report with more is rejected whole.
 */
export const DOTENV_MAX_VARIABLES = 20

/**
 * GitLab says "merge request" where the commands say "pr": the GitLab names
 * are written too, after the originals, so either reads in a later job.
 */
export const GITLAB_ALIASES: Readonly<Record<string, string>> = {
  'pr-url': 'mr-url',
  'pr-number': 'mr-iid',
  'pr-operation': 'mr-operation'
}

/** `pr-url` -> `GITOPS_PR_URL`; GitLab keys may only hold [A-Za-z0-9_]. */
export function dotenvKey(output: string): string {
  return `GITOPS_${output.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}`
}

export interface DotenvReport {
  text: string
  /** Keys left out because the report would break a GitLab limit. */
  dropped: string[]
}

/**
 * GitLab rejects the whole report for a multi-line value, a line without
 * `=`, a blank line or a comment, so values are flattened to one line and
 * empty outputs are still written as `KEY=` (a later job can test for it).
 * A value that would push the report past a limit is dropped rather than
 * cut: a truncated file list or URL would be silently wrong.
 */
export function dotenvReport(outputs: Outputs, redactor?: Redactor): DotenvReport {
  const entries: [string, string][] = []
  for (const [k, v] of Object.entries(outputs)) entries.push([dotenvKey(k), v])
  for (const [k, v] of Object.entries(outputs)) {
    const alias = GITLAB_ALIASES[k]
    if (alias && !(alias in outputs)) entries.push([dotenvKey(alias), v])
  }
  let text = ''
  let count = 0
  const dropped: string[] = []
  for (const [key, raw] of entries) {
    const value = (redactor ? redactor.redact(raw) : raw).replace(/\s*[\r\n]+\s*/g, ' ').trim()
    const line = `${key}=${value}\n`
    if (count >= DOTENV_MAX_VARIABLES || Buffer.byteLength(text + line) > DOTENV_LIMIT) {
      dropped.push(key)
      continue
    }
    text += line
    count++
  }
  return {text, dropped}
}

export function toDotenv(outputs: Outputs, redactor?: Redactor): string {
  return dotenvReport(outputs, redactor).text
}
