import picomatch from 'picomatch'
import {UsageError} from '../errors.js'
import {PROMOTION_CONFIG_FILE, checkRelativeDir, type PromotionConfig} from './config.js'

/** One side of a promotion: an environment name and its directory template. */
export interface EnvironmentRef {
  /** The configured name, or the directory itself when there is no config. */
  name: string
  /** Directory template; holds `{app}` when the repo has several apps. */
  template: string
}

export interface ResolvedPromotion {
  source: EnvironmentRef
  target: EnvironmentRef
  perApp: boolean
}

export interface PromotionRequest {
  from: string
  to?: string
  next: boolean
}

/**
 * Turns `--from`/`--to`/`--next` into two directory templates. With a config
 * the flags name environments; without one they are directories (which may
 * hold `{app}` themselves).
 */
export function resolveEnvironments(
  config: PromotionConfig | undefined,
  request: PromotionRequest
): ResolvedPromotion {
  if (request.next && request.to) {
    throw new UsageError('pass either --to <env> or --next, not both')
  }
  if (!request.next && !request.to) {
    throw new UsageError('say where to promote to: --to <env> or --next')
  }
  if (!config) {
    if (request.next) {
      throw new UsageError(
        `--next needs the environment order from ${PROMOTION_CONFIG_FILE} in the config repo; add the file or pass --to <directory>`
      )
    }
    const source = checkRelativeDir(request.from, '--from')
    const target = checkRelativeDir(request.to!, '--to')
    if (source === target)
      throw new UsageError(`--from and --to are both '${source}'; promote between two directories`)
    const sourceApp = source.includes('{app}')
    if (sourceApp !== target.includes('{app}')) {
      throw new UsageError(
        `only one of --from '${source}' and --to '${target}' holds {app}; use it in both or in neither`
      )
    }
    return {
      source: {name: source, template: source},
      target: {name: target, template: target},
      perApp: sourceApp
    }
  }
  const names = config.environments.map(e => e.name)
  const find = (name: string, flag: string) => {
    const env = config.environments.find(e => e.name === name)
    if (!env) {
      throw new UsageError(
        `${flag} '${name}' is not an environment in ${PROMOTION_CONFIG_FILE}; use one of: ${names.join(', ')}`
      )
    }
    return env
  }
  const source = find(request.from, '--from')
  let target
  if (request.next) {
    const i = names.indexOf(source.name)
    if (i === names.length - 1) {
      throw new UsageError(
        `--next: '${source.name}' is the last environment in ${PROMOTION_CONFIG_FILE} (${names.join(' -> ')}); there is nothing after it`
      )
    }
    target = config.environments[i + 1]
  } else {
    target = find(request.to!, '--to')
  }
  if (target.name === source.name) {
    throw new UsageError(
      `--from and --to are both '${source.name}'; promote between two environments`
    )
  }
  return {
    source: {name: source.name, template: source.path},
    target: {name: target.name, template: target.path},
    perApp: config.perApp
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** `apps/{app}/overlays/dev` -> a regex matching the directory prefix of a path and capturing the app. */
export function templatePattern(template: string): RegExp {
  const parts = template.split('{app}').map(escapeRegex)
  let source = parts[0]
  for (let i = 1; i < parts.length; i++) {
    // The first {app} captures; any later one must repeat the same name.
    source += (i === 1 ? '(?<app>[^/]+)' : '\\k<app>') + parts[i]
  }
  return new RegExp(`^${source}/`)
}

export function directoryFor(template: string, app: string): string {
  return template.replaceAll('{app}', app)
}

/**
 * The apps of an environment are the directories matching its template that
 * hold at least one file. `files` is the repo's file list (`git ls-tree`).
 * Without `{app}` the environment has one unnamed app, keyed by its directory.
 */
export function discoverApps(template: string, files: readonly string[]): string[] {
  if (!template.includes('{app}')) {
    const prefix = `${template}/`
    return files.some(f => f.startsWith(prefix)) ? [template] : []
  }
  const pattern = templatePattern(template)
  const apps = new Set<string>()
  for (const f of files) {
    const m = pattern.exec(f)
    if (m?.groups?.app && !m.groups.app.startsWith('.')) apps.add(m.groups.app)
  }
  return [...apps].sort()
}

/**
 * Applies `--app` globs. A glob that matches nothing is a usage error: a
 * typo would otherwise promote nothing and report success.
 */
export function selectApps(
  apps: readonly string[],
  globs: readonly string[],
  envName: string
): string[] {
  if (globs.length === 0) return [...apps]
  const selected = new Set<string>()
  for (const glob of globs) {
    const match = picomatch(glob, {dot: true})
    const hits = apps.filter(a => match(a))
    if (hits.length === 0) {
      throw new UsageError(
        `--app '${glob}' matches no app in '${envName}'; apps there: ${apps.length > 0 ? apps.join(', ') : '(none)'}`
      )
    }
    for (const h of hits) selected.add(h)
  }
  return apps.filter(a => selected.has(a))
}
