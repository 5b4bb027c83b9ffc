import {isMap, isScalar, isSeq, parseDocument, type Node} from 'yaml'
import {UsageError} from '../errors.js'

/** The promotion config lives at the root of the config repo. */
export const PROMOTION_CONFIG_FILE = '.gitops-deploy.yaml'

export interface Environment {
  name: string
  /** Directory template relative to the repo root, e.g. `apps/{app}/overlays/dev`. */
  path: string
}

export interface PromotionConfig {
  environments: Environment[]
  /** True when the templates carry `{app}` (every template does, or none does). */
  perApp: boolean
}

const ENV_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const PLACEHOLDER = /\{([^{}]*)\}/g

/**
 * Parses `.gitops-deploy.yaml` strictly: a typo in a key or a template would
 * otherwise promote to the wrong directory, and promotion writes to production.
 */
export function parsePromotionConfig(text: string, file = PROMOTION_CONFIG_FILE): PromotionConfig {
  const doc = parseDocument(text, {prettyErrors: false, uniqueKeys: true})
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    throw new UsageError(
      `${file} is not valid YAML (${e.message.split('\n')[0]}); fix the file in the config repo`
    )
  }
  const root = doc.contents as Node | null
  if (!isMap(root)) {
    throw new UsageError(
      `${file} must be a mapping with an 'environments' list; see docs/promotion.md for the format`
    )
  }
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
    if (key !== 'environments') {
      throw new UsageError(
        `${file}: unknown key '${key}'; the only top-level key is 'environments'`
      )
    }
  }
  const list = root.get('environments', true) as Node | undefined
  if (!isSeq(list) || list.items.length === 0) {
    throw new UsageError(
      `${file}: 'environments' must be a non-empty list of {name, path} entries in promotion order`
    )
  }
  const environments: Environment[] = []
  list.items.forEach((item, i) => {
    const where = `${file}: environments[${i}]`
    if (!isMap(item)) throw new UsageError(`${where} must be a mapping with 'name' and 'path'`)
    for (const pair of item.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
      if (key !== 'name' && key !== 'path') {
        throw new UsageError(
          `${where}: unknown key '${key}'; an environment has only 'name' and 'path'`
        )
      }
    }
    const name = scalarString(item.get('name', true) as Node | undefined)
    const path = scalarString(item.get('path', true) as Node | undefined)
    if (name === undefined || name === '') {
      throw new UsageError(`${where} needs a string 'name' such as 'staging'`)
    }
    if (!ENV_NAME.test(name)) {
      throw new UsageError(
        `${where}: name '${name}' may only hold letters, digits, '.', '_' and '-' (starting with a letter or digit)`
      )
    }
    if (environments.some(e => e.name === name)) {
      throw new UsageError(`${where}: environment '${name}' is listed twice; names must be unique`)
    }
    if (path === undefined || path === '') {
      throw new UsageError(
        `${where} ('${name}') needs a string 'path' such as 'apps/{app}/overlays/${name}'`
      )
    }
    environments.push({name, path: normalizeTemplate(path, `${where} ('${name}')`, name)})
  })
  const withApp = environments.filter(e => e.path.includes('{app}'))
  if (withApp.length !== 0 && withApp.length !== environments.length) {
    const without = environments.filter(e => !e.path.includes('{app}')).map(e => e.name)
    throw new UsageError(
      `${file}: environment(s) ${without.join(', ')} have no {app} in 'path' while others do; use {app} in every path or in none (single-app repo)`
    )
  }
  const seen = new Map<string, string>()
  for (const e of environments) {
    const other = seen.get(e.path)
    if (other) {
      throw new UsageError(
        `${file}: environments '${other}' and '${e.name}' share the path '${e.path}'; each environment needs its own directory`
      )
    }
    seen.set(e.path, e.name)
  }
  return {environments, perApp: withApp.length > 0}
}

function scalarString(node: Node | undefined): string | undefined {
  if (!isScalar(node)) return undefined
  return typeof node.value === 'string' ? node.value.trim() : undefined
}

/**
 * `{env}` is filled in at once; `{app}` stays for discovery. A template is a
 * relative directory inside the repo: no `..`, no absolute path, no globs.
 */
function normalizeTemplate(raw: string, where: string, env: string): string {
  for (const m of raw.matchAll(PLACEHOLDER)) {
    if (m[1] !== 'app' && m[1] !== 'env') {
      throw new UsageError(
        `${where}: unknown placeholder '{${m[1]}}' in path; only {app} and {env} exist`
      )
    }
  }
  const path = raw.replaceAll('{env}', env)
  const checked = checkRelativeDir(path, where)
  for (const segment of checked.split('/')) {
    const apps = segment.match(/\{app\}/g)?.length ?? 0
    if (apps > 1) {
      throw new UsageError(
        `${where}: path segment '${segment}' holds {app} twice; use it once per segment`
      )
    }
  }
  return checked
}

/** Shared by templates and `--from`/`--to` directories given without a config file. */
export function checkRelativeDir(raw: string, where: string): string {
  const path = raw.replace(/\\/g, '/').replace(/\/+$/, '').replace(/^\.\//, '')
  if (path === '' || path === '.') {
    throw new UsageError(`${where}: the repository root is not an environment; give its directory`)
  }
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) {
    throw new UsageError(
      `${where}: '${raw}' is absolute; give a directory relative to the repo root`
    )
  }
  const segments = path.split('/')
  if (segments.some(s => s.toLowerCase() === '.git')) {
    throw new UsageError(
      `${where}: '${raw}' is inside .git, git's own files (hooks, config); give a directory of the config repo's content`
    )
  }
  if (segments.some(s => s === '..' || s === '.' || s === '')) {
    throw new UsageError(
      `${where}: '${raw}' must stay inside the repo (no '..', '.' or empty segments)`
    )
  }
  if (/[*?[\]]/.test(path.replaceAll('{app}', ''))) {
    throw new UsageError(
      `${where}: '${raw}' holds glob characters; paths are literal, with {app} as the only wildcard`
    )
  }
  if (segments[0] === '.git') throw new UsageError(`${where}: '${raw}' points into .git`)
  return path
}
