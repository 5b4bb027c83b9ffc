import {createHash} from 'node:crypto'
import {UsageError} from '../core/errors.js'
import {BODY_LIMIT, fitLines, tableCell as cell, tableHead, tableRow} from '../core/markdown.js'
import type {Env} from '../platform/inputs.js'

/** One edit the PR carries. `image` for image pins, `key` for plain YAML values. */
export interface PrChange {
  file: string
  image?: string
  key?: string
  before: string
  after: string
}

/** The repository the image was built from, for compare links. */
export interface SourceRepo {
  kind: 'github' | 'gitlab'
  /** Web URL of the repository, e.g. https://github.com/acme/web */
  url: string
}

export {BODY_LIMIT}

export const MARKER_PREFIX = '<!-- gitops-deploy: '

export interface PrMarker {
  v: 1
  branch: string
  base: string
  count: number
  /** Absent when listing them would not fit the body; read the commit instead. */
  changes?: {file: string; image?: string; key?: string; value: string}[]
}

const MARKER_BUDGET = 30_000

/** Template variables shared by --pr-branch, --title and --body. */
export interface TemplateContext {
  base: string
  branch?: string
  paths: string[]
  changes: PrChange[]
}

const SHA = /(?:^|[-_.+])([0-9a-f]{7,40})$/

/** The commit a tag names, when it ends in something that looks like a SHA (`3f2a9c1`, `main-3f2a9c1`, `sha-…`). */
export function commitOfTag(tag: string): string | undefined {
  return SHA.exec(tag)?.[1]
}

/** The source repo from the CI job that runs us (the app's pipeline, not the config repo). */
export function sourceRepoFromEnv(env: Env): SourceRepo | undefined {
  if (env.GITHUB_REPOSITORY && env.GITHUB_SERVER_URL) {
    return {
      kind: 'github',
      url: `${env.GITHUB_SERVER_URL.replace(/\/+$/, '')}/${env.GITHUB_REPOSITORY}`
    }
  }
  if (env.CI_PROJECT_URL) return {kind: 'gitlab', url: env.CI_PROJECT_URL.replace(/\/+$/, '')}
  return undefined
}

export function compareLink(source: SourceRepo, before: string, after: string): string | undefined {
  const a = commitOfTag(tagOf(before))
  const b = commitOfTag(tagOf(after))
  if (!a || !b || a === b) return undefined
  return source.kind === 'github'
    ? `${source.url}/compare/${a}...${b}`
    : `${source.url}/-/compare/${a}...${b}`
}

/** `ghcr.io/acme/web:1.2@sha256:…` -> `1.2`; a bare tag stays as is. */
function tagOf(value: string): string {
  const noDigest = value.split('@')[0]
  const slash = noDigest.lastIndexOf('/')
  const colon = noDigest.lastIndexOf(':')
  return colon > slash ? noDigest.slice(colon + 1) : noDigest
}

const VARIABLES = ['base', 'branch', 'path', 'paths', 'image', 'images', 'tag', 'summary'] as const

/**
 * `{{name}}` substitution. Unknown names are an error rather than left in
 * place: a typo would otherwise become part of a branch name forever.
 */
export function renderTemplate(template: string, ctx: TemplateContext, what: string): string {
  return template.replace(/\{\{\s*([a-z]+)\s*\}\}/g, (_, name: string) => {
    if (!(VARIABLES as readonly string[]).includes(name)) {
      throw new UsageError(
        `${what} uses unknown variable {{${name}}}; use one of ${VARIABLES.map(v => `{{${v}}}`).join(', ')}`
      )
    }
    return variable(name as (typeof VARIABLES)[number], ctx)
  })
}

function variable(name: (typeof VARIABLES)[number], ctx: TemplateContext): string {
  const images = ctx.changes.filter(c => c.image)
  switch (name) {
    case 'base':
      return ctx.base
    case 'branch':
      return ctx.branch ?? ''
    case 'path':
      return ctx.paths[0] ?? ''
    case 'paths':
      return ctx.paths.join(', ')
    case 'image':
      return images[0]?.image ?? ''
    case 'images':
      return images.map(c => `${c.image}:${tagOf(c.after)}`).join(', ')
    case 'tag':
      return images[0] ? tagOf(images[0].after) : ''
    case 'summary':
      return summarize(ctx.changes)
  }
}

function summarize(changes: PrChange[]): string {
  const images = [...new Set(changes.filter(c => c.image).map(c => `${c.image}:${tagOf(c.after)}`))]
  const keys = [...new Set(changes.filter(c => !c.image && c.key).map(c => `${c.key}=${c.after}`))]
  const all = [...images, ...keys]
  if (all.length === 0) return 'no changes'
  if (all.length <= 2) return all.join(', ')
  return `${all.length} changes`
}

export const DEFAULT_BRANCH_TEMPLATE = 'gitops-deploy/{{base}}/{{path}}'
export const DEFAULT_TITLE_TEMPLATE = 'Deploy {{summary}} to {{path}}'

/**
 * A branch name git accepts (`git check-ref-format --branch`) that is the
 * same for the same inputs. Over-long names are cut and given a hash suffix
 * so two long paths never collide.
 */
export function branchName(template: string, ctx: TemplateContext): string {
  const raw = renderTemplate(template, ctx, '--pr-branch')
  let name = raw
    .replace(/[\x00-\x20\x7f~^:?*[\\]+/g, '-')
    .replace(/@\{/g, '-')
    .replace(/\.{2,}/g, '.')
    .split('/')
    .map(part => part.replace(/^\.+/, '').replace(/\.lock$/i, '-lock'))
    .filter(part => part !== '')
    .join('/')
    .replace(/[./]+$/, '')
  if (name === '' || name === '@' || name.startsWith('-')) {
    throw new UsageError(
      `--pr-branch '${template}' renders to '${raw}', which is not a usable branch name; change the template`
    )
  }
  if (name.length > 200) {
    const hash = createHash('sha256').update(name).digest('hex').slice(0, 10)
    name = `${name.slice(0, 189).replace(/[./-]+$/, '')}-${hash}`
  }
  return name
}

export interface BodyInput {
  /** Rendered --body template, shown above the generated part. */
  intro?: string
  branch: string
  base: string
  changes: PrChange[]
  source?: SourceRepo
}

/** The PR description: intro, change table, compare links, and the hidden marker. */
export function renderBody(input: BodyInput): string {
  const marker = bodyMarker(input)
  const head: string[] = []
  if (input.intro?.trim()) head.push(input.intro.trim(), '')
  const rows = input.changes.map(c => {
    const link = input.source && c.image ? compareLink(input.source, c.before, c.after) : undefined
    const what = c.image ? `\`${cell(c.image)}\`` : `\`${cell(c.key ?? '')}\``
    const change = `\`${cell(c.before || '(none)')}\` → \`${cell(c.after)}\``
    return tableRow([
      `\`${cell(c.file)}\``,
      what,
      `${change}${link ? ` ([compare](${link}))` : ''}`
    ])
  })
  const table = [...tableHead(['File', 'Image / key', 'Change']), ...rows]
  const footer = [
    '',
    `<sub>Opened by gitops-deploy. Re-running the same deploy updates this pull request.</sub>`,
    '',
    marker
  ]
  let body = [...head, ...table, ...footer].join('\n')
  if (body.length > BODY_LIMIT) {
    // Keep the marker whole: later runs and tools read it.
    const note = `\n${tableRow(['…', '…', `${input.changes.length} changes in all; the rest are in the commit`])}`
    const budget = BODY_LIMIT - footer.join('\n').length - note.length - 1
    // fitLines counts a newline after every line; the last kept one has none here.
    const {kept} = fitLines([...head, ...table], budget + 1)
    body = [kept.join('\n') + note, ...footer].join('\n')
  }
  return body
}

/**
 * The hidden marker for a PR carrying `changes`. Past `budget` characters it
 * leaves the list of changes out, so the marker always fits whole.
 */
export function bodyMarker(
  input: {branch: string; base: string; changes: readonly PrChange[]},
  budget = MARKER_BUDGET
): string {
  const full: PrMarker = {
    v: 1,
    branch: input.branch,
    base: input.base,
    count: input.changes.length,
    changes: input.changes.map(c => ({
      file: c.file,
      ...(c.image ? {image: c.image} : {}),
      ...(c.key ? {key: c.key} : {}),
      value: c.after
    }))
  }
  const text = renderMarker(full)
  return text.length > budget ? renderMarker({...full, changes: undefined}) : text
}

export function renderMarker(marker: PrMarker): string {
  // `-->` inside the JSON would end the comment early.
  const json = JSON.stringify(marker).replace(/>/g, '\\u003e').replace(/</g, '\\u003c')
  return `${MARKER_PREFIX}${json} -->`
}

export function parseMarker(body: string): PrMarker | undefined {
  const start = body.lastIndexOf(MARKER_PREFIX)
  if (start < 0) return undefined
  const end = body.indexOf(' -->', start)
  if (end < 0) return undefined
  try {
    const m = JSON.parse(body.slice(start + MARKER_PREFIX.length, end)) as PrMarker
    return m && m.v === 1 ? m : undefined
  } catch {
    return undefined
  }
}
