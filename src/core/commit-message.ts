import {UsageError} from './errors.js'

/** One value that changed in one file, as the commit message reports it. */
export interface MessageChange {
  file: string
  /** Image name (kustomize `images[].name`) or YAML key path. */
  name: string
  kind: 'image' | 'key'
  before: string | null
  after: string | null
}

/** Where the deploy came from, read from the CI environment. */
export interface CiSource {
  /** Web URL of the repository whose pipeline ran. */
  repo?: string
  commit?: string
  actor?: string
  runUrl?: string
}

export interface MessageInput {
  changes: MessageChange[]
  /** The --path values as given. */
  paths: string[]
  branch: string
  source: CiSource
}

/** Placeholders a --message template may use as `{{name}}`; a literal `\n` is a newline. */
export const MESSAGE_PLACEHOLDERS: Record<string, string> = {
  subject: 'the default subject line, e.g. "Deploy web:1.5.0, worker:1.5.0"',
  changes: 'one block per changed file listing `name: old -> new`',
  images: 'the new image references, comma-separated (e.g. "ghcr.io/acme/web:1.5.0")',
  apps: 'short image names (last path segment), comma-separated',
  tags: 'the distinct new tags or digests, comma-separated',
  paths: 'the --path values as given, comma-separated',
  files: 'the changed files, comma-separated',
  branch: 'the config repo branch the commit goes to',
  source_repo:
    'web URL of the repository whose CI ran (GITHUB_SERVER_URL/GITHUB_REPOSITORY or CI_PROJECT_URL)',
  source_commit: 'its commit (GITHUB_SHA or CI_COMMIT_SHA)',
  source_short_commit: 'the first 12 characters of source_commit',
  actor: 'who triggered the pipeline (GITHUB_ACTOR or GITLAB_USER_LOGIN)',
  run_url: 'link to the workflow run or pipeline',
  trailers: 'the Source-Repo:/Source-Commit: trailers for the values that are known'
}

/** Reads the source repo, commit, actor and run link from GitHub Actions or GitLab CI variables. */
// core stays import-free: the environment is taken structurally (platform/inputs.ts names it Env).
export function ciSourceFromEnv(env: Readonly<Record<string, string | undefined>>): CiSource {
  if (env.GITHUB_REPOSITORY) {
    const server = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '')
    const repo = `${server}/${env.GITHUB_REPOSITORY}`
    return {
      repo,
      commit: env.GITHUB_SHA || undefined,
      actor: env.GITHUB_ACTOR || undefined,
      runUrl: env.GITHUB_RUN_ID ? `${repo}/actions/runs/${env.GITHUB_RUN_ID}` : undefined
    }
  }
  if (env.CI_PROJECT_URL) {
    return {
      repo: env.CI_PROJECT_URL,
      commit: env.CI_COMMIT_SHA || undefined,
      actor: env.GITLAB_USER_LOGIN || undefined,
      runUrl: env.CI_PIPELINE_URL || env.CI_JOB_URL || undefined
    }
  }
  return {}
}

/** Throws UsageError naming the unknown placeholder and the valid ones. */
export function validateMessageTemplate(template: string): void {
  for (const name of placeholdersIn(template)) {
    if (!(name in MESSAGE_PLACEHOLDERS)) {
      throw new UsageError(
        `--message uses unknown placeholder {{${name}}}; use one of ${Object.keys(
          MESSAGE_PLACEHOLDERS
        )
          .map(k => `{{${k}}}`)
          .join(', ')}`
      )
    }
  }
}

/** The placeholders only an image edit fills. */
export const IMAGE_PLACEHOLDERS = ['images', 'apps', 'tags'] as const

/**
 * validateMessageTemplate for a command that cannot fill some placeholders
 * (argo-app and set-chart-version set no images): those are refused with the
 * ones it can fill, instead of rendering as empty text.
 */
export function messageTemplateCheck(command: string, unfillable: readonly string[]) {
  const cannot = new Set<string>(unfillable)
  const usable = Object.keys(MESSAGE_PLACEHOLDERS).filter(k => !cannot.has(k))
  return (template: string): void => {
    validateMessageTemplate(template)
    const bad = placeholdersIn(template).find(name => cannot.has(name))
    if (bad !== undefined) {
      throw new UsageError(
        `--message uses {{${bad}}}, which ${command} cannot fill (it sets no images); use one of ${usable.map(k => `{{${k}}}`).join(', ')}`
      )
    }
  }
}

// The `{{name}}` syntax of the PR title/branch and promote templates.
const PLACEHOLDER = /\{\{\s*([^{}\s]*)\s*\}\}/g

function placeholdersIn(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map(m => m[1])
}

/**
 * A value as it may appear inside a commit message: control characters
 * (line breaks above all) are shown escaped, so a value can never start a
 * line of its own and forge a trailer such as `Signed-off-by:` or
 * `Source-Commit:`, nor hide text behind a carriage return.
 */
export function inlineValue(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, c => {
    if (c === '\n') return '\\n'
    if (c === '\r') return '\\r'
    if (c === '\t') return '\\t'
    const code = c.charCodeAt(0)
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, '0')}`
      : `\\x${code.toString(16).padStart(2, '0')}`
  })
}

function cleanChange(c: MessageChange): MessageChange {
  return {
    ...c,
    file: inlineValue(c.file),
    name: inlineValue(c.name),
    before: c.before === null ? null : inlineValue(c.before),
    after: c.after === null ? null : inlineValue(c.after)
  }
}

function cleanInput(input: MessageInput): MessageInput {
  const opt = (v: string | undefined) => (v === undefined ? undefined : inlineValue(v))
  return {
    changes: input.changes.map(cleanChange),
    paths: input.paths.map(inlineValue),
    branch: inlineValue(input.branch),
    source: {
      repo: opt(input.source.repo),
      commit: opt(input.source.commit),
      actor: opt(input.source.actor),
      runUrl: opt(input.source.runUrl)
    }
  }
}

/** `ghcr.io/acme/web` -> `web`; keys stay as they are. */
export function shortName(change: MessageChange): string {
  if (change.kind === 'key') return change.name
  const noDigest = change.name.split('@')[0]
  return noDigest.slice(noDigest.lastIndexOf('/') + 1) || change.name
}

/** The tag or short digest of an image value; other values unchanged. */
export function versionOf(value: string | null): string {
  if (value === null) return '(none)'
  const at = value.indexOf('@')
  if (at >= 0) {
    const digest = value.slice(at + 1)
    return digest.startsWith('sha256:') ? `sha256:${digest.slice(7, 19)}` : digest
  }
  const colon = value.lastIndexOf(':')
  return colon > value.lastIndexOf('/') ? value.slice(colon + 1) : value
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)]
}

export function defaultSubject(raw: MessageInput): string {
  const input = cleanInput(raw)
  const images = input.changes.filter(c => c.kind === 'image' && c.after !== null)
  if (images.length > 0) {
    const parts = unique(images.map(c => `${shortName(c)}:${versionOf(c.after)}`))
    const shown = parts.slice(0, 3).join(', ')
    return `Deploy ${shown}${parts.length > 3 ? ` and ${parts.length - 3} more` : ''}`
  }
  const keys = input.changes.filter(c => c.kind === 'key')
  const files = unique(keys.map(c => c.file))
  if (keys.length === 1)
    return `Set ${keys[0].name}=${keys[0].after ?? '(removed)'} in ${keys[0].file}`
  if (keys.length > 0) {
    const names = unique(keys.map(c => c.name))
    return `Set ${names.slice(0, 3).join(', ')}${names.length > 3 ? ' and more' : ''} in ${files.length} file${files.length === 1 ? '' : 's'}`
  }
  return `Update ${input.paths.join(', ') || 'config'}`
}

export function changesBlock(raw: MessageChange[]): string {
  const changes = raw.map(cleanChange)
  const byFile = new Map<string, MessageChange[]>()
  for (const c of changes) byFile.set(c.file, [...(byFile.get(c.file) ?? []), c])
  return [...byFile]
    .map(([file, list]) => {
      const lines = list.map(c => `  ${c.name}: ${showValue(c.before)} -> ${showValue(c.after)}`)
      return `${file}\n${lines.join('\n')}`
    })
    .join('\n')
}

/** An edit's before/after value for people: a missing entry reads `(none)`. */
export function showValue(value: string | null): string {
  return value === null ? '(none)' : value
}

export function trailers(source: CiSource): string {
  const lines: string[] = []
  if (source.repo) lines.push(`Source-Repo: ${inlineValue(source.repo)}`)
  if (source.commit) lines.push(`Source-Commit: ${inlineValue(source.commit)}`)
  return lines.join('\n')
}

function values(raw: MessageInput): Record<string, string> {
  const input = cleanInput(raw)
  const images = input.changes.filter(c => c.kind === 'image' && c.after !== null)
  return {
    subject: defaultSubject(input),
    changes: changesBlock(input.changes),
    images: unique(images.map(c => c.after as string)).join(', '),
    apps: unique(images.map(shortName)).join(', '),
    tags: unique(images.map(c => versionOf(c.after))).join(', '),
    paths: input.paths.join(', '),
    files: unique(input.changes.map(c => c.file)).join(', '),
    branch: input.branch,
    source_repo: input.source.repo ?? '',
    source_commit: input.source.commit ?? '',
    source_short_commit: input.source.commit?.slice(0, 12) ?? '',
    actor: input.source.actor ?? '',
    run_url: input.source.runUrl ?? '',
    trailers: trailers(input.source)
  }
}

/**
 * The commit message: `template` rendered, or the default (subject naming
 * apps and tags, a body of `name: old -> new` per file, source trailers).
 * Pure: everything it needs is in `input`.
 */
export function renderCommitMessage(template: string | undefined, input: MessageInput): string {
  const v = values(input)
  if (template === undefined || template.trim() === '') {
    const parts = [v.subject, v.changes, v.trailers].filter(Boolean)
    return tidy(parts.join('\n\n'))
  }
  validateMessageTemplate(template)
  const rendered = template.replace(/\\n/g, '\n').replace(PLACEHOLDER, (_, name: string) => v[name])
  const text = tidy(rendered)
  if (!text.trim())
    throw new UsageError('--message renders to an empty commit message; include e.g. {{subject}}')
  return text
}

/** Trailing spaces and runs of blank lines left by empty placeholders. */
function tidy(text: string): string {
  return (
    text
      .split('\n')
      .map(l => l.replace(/\s+$/, ''))
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim() + '\n'
  )
}
