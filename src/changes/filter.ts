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
