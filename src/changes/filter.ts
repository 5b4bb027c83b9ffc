import picomatch from 'picomatch'
import {UsageError} from '../core/errors.js'

/** One entry of `git diff --name-status`; a rename or copy carries both paths. */
export interface FileChange {
  status: string
  path: string
  /** The source path of a rename (R) or copy (C). */
  from?: string
}

export interface PathFilter {
  readonly buildPaths: readonly string[]
  readonly ignorePaths: readonly string[]
  /** True when the path is a build input: matched by a build glob and by no ignore glob. */
  matchesPath(path: string): boolean
  /** A rename counts for both sides: moving a file out of the build paths changes the build too. */
  matchesChange(change: FileChange): boolean
}

/**
 * Splits option values into globs. Users pass one glob per line (action
 * inputs), repeat the flag (CLI) or write `a/**,b/**` in one value; commas
 * inside braces (`src/{a,b}/**`) belong to the glob, so they are not separators.
 */
export function splitGlobs(values: readonly string[]): string[] {
  const out: string[] = []
  for (const value of values) {
    let depth = 0
    let current = ''
    for (const ch of value) {
      if (ch === '{') depth++
      else if (ch === '}') depth = Math.max(0, depth - 1)
      if ((ch === ',' && depth === 0) || ch === '\n' || ch === '\r') {
        out.push(current)
        current = ''
      } else current += ch
    }
    out.push(current)
  }
  return out.map(g => g.trim()).filter(g => g.length > 0 && !g.startsWith('#'))
}

const OPTIONS: picomatch.PicomatchOptions = {dot: true}

/** Returns why the glob can never do what the user meant, or undefined when it is fine. */
export function globProblem(glob: string): string | undefined {
  if (glob.startsWith('/')) {
    return 'paths are relative to the repository root; drop the leading "/"'
  }
  if (glob.includes('\\')) return 'use "/" as the path separator; "\\" is not supported'
  const segments = glob.split('/')
  if (segments.some(s => s === '..' || s === '.')) {
    return 'write the path from the repository root without "." or ".." segments'
  }
  for (const [open, close] of [
    ['{', '}'],
    ['[', ']'],
    ['(', ')']
  ] as const) {
    let depth = 0
    for (const ch of glob) {
      if (ch === open) depth++
      else if (ch === close) depth--
      if (depth < 0) break
    }
    if (depth !== 0) return `unbalanced "${open}${close}"; close the group or drop it`
  }
  let re: RegExp
  try {
    re = picomatch.makeRe(glob, OPTIONS)
  } catch (e) {
    return `not a valid glob (${e instanceof Error ? e.message : String(e)})`
  }
  // picomatch turns some broken globs (reversed ranges like [z-a]) into a
  // pattern that matches nothing; a filter that silently never fires would
  // skip every build, which is the one failure this command must not have.
  if (re.source === '$^') return 'it can never match a path; check ranges like [a-z]'
  return undefined
}

/**
 * A directory written with a trailing slash means everything below it, which
 * is what people mean by `deploy/`; picomatch alone would match nothing.
 */
function normalize(glob: string): string {
  return glob.endsWith('/') ? `${glob}**` : glob
}

/**
 * Validates every glob up front so a typo fails the job (exit 2) instead of
 * quietly deciding "no build". `!glob` in the build list is an ignore glob.
 */
export function createFilter(
  buildGlobs: readonly string[],
  ignoreGlobs: readonly string[] = []
): PathFilter {
  const build: string[] = []
  const ignore: string[] = []
  for (const raw of buildGlobs) {
    if (raw.startsWith('!')) ignore.push(raw.slice(1))
    else build.push(raw)
  }
  for (const raw of ignoreGlobs) ignore.push(raw.startsWith('!') ? raw.slice(1) : raw)
  if (build.length === 0) {
    throw new UsageError(
      "no build paths given; pass --build-paths with the globs of the image's inputs, e.g. --build-paths 'src/**' --build-paths Dockerfile"
    )
  }
  for (const [glob, option] of [
    ...build.map(g => [g, 'build-paths'] as const),
    ...ignore.map(g => [g, 'ignore-paths'] as const)
  ]) {
    const problem = globProblem(glob)
    if (problem) throw new UsageError(`invalid glob '${glob}' in --${option}: ${problem}`)
  }
  const isBuild = picomatch(build.map(normalize), OPTIONS)
  const isIgnored = ignore.length > 0 ? picomatch(ignore.map(normalize), OPTIONS) : () => false
  const matchesPath = (path: string) => isBuild(path) && !isIgnored(path)
  return {
    buildPaths: build,
    ignorePaths: ignore,
    matchesPath,
    matchesChange: change =>
      matchesPath(change.path) || (change.from !== undefined && matchesPath(change.from))
  }
}

/**
 * A named filter, as paths-filter has them: several in one step, each answering "did any file
 * I care about change?" with its own output. `!glob` excludes, as in --build-paths.
 */
export interface NamedFilter {
  name: string
  filter: PathFilter
}

export type ListFormat = 'none' | 'json' | 'csv' | 'shell-escape'
export const LIST_FORMATS: readonly ListFormat[] = ['none', 'json', 'csv', 'shell-escape']

export interface FilterResult {
  name: string
  /** True when a change matched, and (fail-open) when there was no change list to look at. */
  matched: boolean
  /** Paths of the matching changes (the new path of a rename). */
  files: string[]
}

/** A name becomes an output (`<name>`, `<name>_files`) and a GitLab variable: keep it plain. */
const FILTER_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/

function namedFilter(name: string, globs: readonly string[], where: string): NamedFilter {
  if (!FILTER_NAME.test(name)) {
    throw new UsageError(
      `filter name '${name}' in ${where} is not a plain name; use letters, digits, '-' and '_', starting with a letter`
    )
  }
  const include: string[] = []
  const exclude: string[] = []
  for (const glob of globs) (glob.startsWith('!') ? exclude : include).push(glob.replace(/^!/, ''))
  if (include.length === 0) {
    throw new UsageError(
      `filter '${name}' in ${where} has no globs; write ${name}=src/**,Dockerfile`
    )
  }
  for (const glob of [...include, ...exclude]) {
    const problem = globProblem(glob)
    if (problem)
      throw new UsageError(`invalid glob '${glob}' in filter '${name}' (${where}): ${problem}`)
  }
  const isIn = picomatch(include.map(normalize), OPTIONS)
  const isOut = exclude.length > 0 ? picomatch(exclude.map(normalize), OPTIONS) : () => false
  const matchesPath = (path: string) => isIn(path) && !isOut(path)
  return {
    name,
    filter: {
      buildPaths: include,
      ignorePaths: exclude,
      matchesPath,
      matchesChange: c => matchesPath(c.path) || (c.from !== undefined && matchesPath(c.from))
    }
  }
}

/**
 * `--filter name=glob,glob` (repeatable; one per line as an input) and the parsed YAML of
 * `--filters-file` (`name: [globs]` or `name: glob`, paths-filter's format). Names are unique
 * across both and must not shadow `reserved` (the command's own outputs).
 */
export function parseNamedFilters(
  values: readonly string[],
  file: {path: string; data: unknown} | undefined,
  reserved: ReadonlySet<string>
): NamedFilter[] {
  const out: NamedFilter[] = []
  const add = (f: NamedFilter, where: string) => {
    if (reserved.has(f.name) || reserved.has(`${f.name}_files`)) {
      throw new UsageError(
        `filter name '${f.name}' in ${where} is an output of the command already; rename the filter`
      )
    }
    if (out.some(o => o.name === f.name)) {
      throw new UsageError(
        `filter '${f.name}' is defined twice (${where}); give each filter one name`
      )
    }
    out.push(f)
  }
  for (const value of values
    .flatMap(v => v.split(/\r?\n/))
    .map(v => v.trim())
    .filter(Boolean)) {
    const eq = value.indexOf('=')
    if (eq <= 0) {
      throw new UsageError(
        `--filter '${value}' is not name=globs; write it like --filter backend=src/**,Dockerfile`
      )
    }
    add(
      namedFilter(value.slice(0, eq).trim(), splitGlobs([value.slice(eq + 1)]), '--filter'),
      '--filter'
    )
  }
  if (file) {
    const where = `--filters-file ${file.path}`
    const data = file.data
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new UsageError(
        `${where} must be a YAML mapping of filter names to globs, e.g. backend: ['src/**']`
      )
    }
    for (const [name, globs] of Object.entries(data as Record<string, unknown>)) {
      const list = typeof globs === 'string' ? [globs] : Array.isArray(globs) ? globs : undefined
      if (!list || list.some(g => typeof g !== 'string')) {
        throw new UsageError(`${where}: filter '${name}' must be a glob or a list of globs`)
      }
      add(namedFilter(name, splitGlobs(list as string[]), where), where)
    }
  }
  return out
}

/** Each filter against the change list; no list (no base to compare with) means every filter matched. */
export function evaluateFilters(
  filters: readonly NamedFilter[],
  changes: readonly FileChange[] | undefined
): FilterResult[] {
  return filters.map(f => {
    if (!changes) return {name: f.name, matched: true, files: []}
    const files = changes.filter(c => f.filter.matchesChange(c)).map(c => c.path)
    return {name: f.name, matched: files.length > 0, files}
  })
}

/** The `<name>_files` value, in paths-filter's formats. */
export function formatFileList(files: readonly string[], format: ListFormat): string {
  switch (format) {
    case 'none':
      return ''
    case 'json':
      return JSON.stringify(files)
    case 'csv':
      return files.map(f => (/[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',')
    case 'shell-escape':
      return files
        .map(f => (/^[A-Za-z0-9_./@%+=:,-]+$/.test(f) ? f : `'${f.replace(/'/g, "'\\''")}'`))
        .join(' ')
  }
}
