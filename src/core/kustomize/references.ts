/**
 * The local paths a kustomization reads, from its text alone: what a render
 * of it needs beside the kustomization itself. Remote resources (URLs,
 * `github.com/...?ref=`) are left out: the renderer fetches those itself.
 */
import {isMap, isScalar, isSeq, parseDocument, type Node} from 'yaml'

/** Fields whose entries are paths (a string, or a list of strings). */
const PATH_LISTS = [
  'resources',
  'bases',
  'components',
  'crds',
  'configurations',
  'generators',
  'transformers',
  'validators',
  'patchesStrategicMerge'
]

/** Fields whose entries are objects with path-valued keys. */
const OBJECT_LISTS: Record<string, string[]> = {
  patches: ['path'],
  patchesJson6902: ['path'],
  replacements: ['path'],
  configMapGenerator: ['files', 'envs', 'env'],
  secretGenerator: ['files', 'envs', 'env'],
  helmCharts: ['valuesFile', 'additionalValuesFiles']
}

/** `key=path` (a generator's file under another name) names `path`. */
function generatorFile(entry: string): string {
  const i = entry.indexOf('=')
  return i < 0 ? entry : entry.slice(i + 1)
}

/** A reference that names something on disk (not a URL, not an inline patch). */
function localPath(value: string): string | undefined {
  const v = value.trim()
  if (!v || v.includes('\n')) return undefined
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) || /^git@|^github\.com\/|^gitlab\.com\/|\?ref=/.test(v)) {
    return undefined
  }
  return v
}

function strings(node: unknown): string[] {
  if (isScalar(node)) return typeof node.value === 'string' ? [node.value] : []
  if (isSeq(node))
    return node.items.flatMap(i => (isScalar(i) && typeof i.value === 'string' ? [i.value] : []))
  return []
}

/**
 * The local paths `text` (a kustomization) refers to, relative to its
 * directory, in the order they appear; empty when it does not parse (the
 * renderer then names the problem).
 */
export function kustomizationReferences(text: string): string[] {
  const doc = parseDocument(text)
  if (doc.errors.length > 0 || !isMap(doc.contents)) return []
  const out: string[] = []
  const add = (v: string) => {
    const p = localPath(v)
    if (p !== undefined) out.push(p)
  }
  for (const field of PATH_LISTS) strings(doc.get(field, true)).forEach(add)
  for (const [field, keys] of Object.entries(OBJECT_LISTS)) {
    const list = doc.get(field, true) as Node | undefined
    if (!isSeq(list)) continue
    for (const item of list.items) {
      if (!isMap(item)) continue
      for (const key of keys) strings(item.get(key, true)).map(generatorFile).forEach(add)
    }
  }
  const chartHome = doc.getIn(['helmGlobals', 'chartHome'])
  if (typeof chartHome === 'string') add(chartHome)
  const openapi = doc.getIn(['openapi', 'path'])
  if (typeof openapi === 'string') add(openapi)
  return [...new Set(out)]
}

/**
 * Every `image:` value in a manifest or a render (containers, init and
 * ephemeral containers alike; YAML or JSON), in order, without repeats.
 */
export function imageReferences(text: string): string[] {
  const out = new Set<string>()
  for (const m of text.matchAll(/^[ \t-]*"?image"?:[ \t]*['"]?([^'"\s#,}]+)/gm)) out.add(m[1])
  return [...out]
}

/** True when the kustomization needs something a plain local render cannot give (Helm, remote bases). */
export function needsMoreThanFiles(text: string): boolean {
  const doc = parseDocument(text)
  if (doc.errors.length > 0 || !isMap(doc.contents)) return false
  if (doc.has('helmCharts')) return true
  return [
    ...strings(doc.get('resources', true)),
    ...strings(doc.get('bases', true)),
    ...strings(doc.get('components', true))
  ].some(r => r.trim() && localPath(r) === undefined)
}
