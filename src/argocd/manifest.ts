/**
 * `argo-app`: the Application that argo-upsert sends to the API, kept as a
 * manifest in the config repo instead (app-of-apps). A new file is rendered
 * from the flags; an existing one is edited in place by splicing its source
 * text, so comments, key order, quoting and every field the flags do not own
 * stay byte for byte. The merge rule is documented in docs/argo-cd.md
 * ("Declarative: argo-app") and mirrored by `planOps` below.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type Node,
  type Pair,
  type Scalar,
  type YAMLMap
} from 'yaml'
import {UsageError} from '../core/errors.js'
import {renderString, renderStringInStyle} from '../core/yaml/scalar-style.js'
import {
  applySplices,
  colonAfter,
  column,
  detectEol,
  insertLines,
  lastContent,
  lineEnd,
  lineStart,
  parseYamlDocuments,
  scalarSpan,
  startsLine,
  type Splice
} from '../core/yaml/source-text.js'
import {
  APPLICATION_API_VERSION,
  buildApplication,
  changedFields,
  type AppSettings,
  type FieldChange
} from './application.js'
import type {Application} from './types.js'

export interface ManifestRequest {
  app: AppSettings
  /** metadata.finalizers to make sure of (added when missing; others are kept). */
  finalizers: string[]
}

export type ManifestResult =
  | {kind: 'created'; text: string; changes: FieldChange[]}
  | {kind: 'updated'; text: string; changes: FieldChange[]}
  | {kind: 'unchanged'; text: string; changes: FieldChange[]}

export const MANIFEST_HEADER = [
  '# Argo CD Application managed by gitops-deploy (argo-app). The fields its flags set are',
  '# overwritten on every run; comments and fields added by hand are kept.'
]

type Json = null | boolean | number | string | Json[] | {[k: string]: Json}
/** Mapping keys, and item indexes where a list is edited item by item. */
type Path = (string | number)[]
type Op =
  | {kind: 'set'; path: Path; value: Json}
  | {kind: 'delete'; path: Path}
  | {kind: 'append'; path: Path; values: Json[]}

/** The Application as the flags describe it, with apiVersion/kind first (what a new file holds). */
export function desiredApplication(req: ManifestRequest): Application {
  const app = buildApplication(req.app)
  if (req.finalizers.length) app.metadata.finalizers = [...req.finalizers]
  return app
}

/** A new manifest: header comment, then the Application in the layout `kubectl` users expect. */
export function renderManifest(req: ManifestRequest, eol = '\n'): string {
  const app = desiredApplication(req) as unknown as Record<string, Json>
  const lines = renderValue(app, 0, {...LAYOUT, eol})
  return [...MANIFEST_HEADER, ...lines].join(eol) + eol
}

/**
 * Creates or updates the Application `req.app.name` in `text` (undefined:
 * the file does not exist). Throws UsageError when the file holds something
 * else; the caller then writes nothing.
 */
export function mergeManifest(
  text: string | undefined,
  req: ManifestRequest,
  label: string
): ManifestResult {
  if (text === undefined) return {kind: 'created', text: renderManifest(req), changes: []}
  const docs = parseYamlDocuments(text, label)
  const eol = detectEol(text)
  if (docs.every(d => d.contents == null)) {
    // Only comments (or nothing): keep them and add the Application below.
    const sep = text.length && !text.endsWith('\n') ? eol : ''
    return {kind: 'created', text: text + sep + renderManifest(req, eol), changes: []}
  }
  const index = targetDocument(docs, req.app, label)
  const before = docs[index].toJS() as Record<string, Json>
  checkShape(before, label)
  const model = structuredClone(before)
  const ops = planOps(model, req)
  if (ops.length === 0) return {kind: 'unchanged', text, changes: []}
  const layout = detectLayout(text, docs[index])
  let out = text
  for (const op of ops) out = applyOp(out, index, op, layout, label)
  verify(text, out, index, model, label)
  const changes = describeChanges(before, model)
  return out === text
    ? {kind: 'unchanged', text, changes: []}
    : {kind: 'updated', text: out, changes}
}

// ------------------------------------------------------------- validation ---

function kindOf(js: unknown): string {
  if (!isObject(js)) return Array.isArray(js) ? 'a list' : 'a plain value'
  const kind = typeof js.kind === 'string' ? js.kind : '(no kind)'
  return typeof js.apiVersion === 'string' ? `${js.apiVersion} ${kind}` : kind
}

function isArgoApp(js: unknown): js is Record<string, Json> {
  return isObject(js) && js.kind === 'Application' && js.apiVersion === APPLICATION_API_VERSION
}

function nameOf(js: Record<string, Json>): string | undefined {
  const meta = js.metadata
  return isObject(meta) && typeof meta.name === 'string' ? meta.name : undefined
}

/** The one document to edit; refuses files that hold anything but this Application. */
function targetDocument(docs: Document.Parsed[], app: AppSettings, label: string): number {
  const filled = docs.map((d, i) => ({i, js: d.contents == null ? undefined : d.toJS()}))
  const present = filled.filter(d => d.js !== undefined)
  const fix = `point --manifest at ${app.name}'s own file (a path that does not exist yet is created)`
  if (present.length === 1) {
    const {i, js} = present[0]
    if (!isArgoApp(js)) {
      throw new UsageError(
        `${label} holds ${kindOf(js)}, not an Argo CD Application (${APPLICATION_API_VERSION}); ${fix}`
      )
    }
    const name = nameOf(js)
    if (name !== app.name) {
      throw new UsageError(
        `${label} holds Application '${name ?? '(no name)'}', not '${app.name}'; rewriting it would replace that app. ${fix}, or pass --app ${name ?? '<name>'}`
      )
    }
    return i
  }
  const matches = present.filter(d => isArgoApp(d.js) && nameOf(d.js) === app.name)
  const inNamespace = matches.filter(d => {
    const ns = ((d.js as Record<string, Json>).metadata as Record<string, Json>).namespace
    return app.namespace === undefined || ns === undefined || ns === app.namespace
  })
  if (inNamespace.length === 1) return inNamespace[0].i
  if (inNamespace.length > 1) {
    throw new UsageError(
      `${label} holds ${inNamespace.length} Applications named '${app.name}' (documents ${inNamespace.map(m => m.i).join(', ')}, counting from 0); keep one, or give each its own file`
    )
  }
  throw new UsageError(
    `${label} has ${present.length} documents and none is an Argo CD Application named '${app.name}' (found: ${present.map(d => kindOf(d.js)).join(', ')}); ${fix}`
  )
}

function checkShape(js: Record<string, Json>, label: string): void {
  for (const key of ['metadata', 'spec']) {
    const v = js[key]
    if (v !== undefined && v !== null && !isObject(v)) {
      throw new UsageError(
        `${label}: ${key} is ${describe(v)}, not a mapping; fix the manifest by hand`
      )
    }
  }
  const spec = js.spec
  if (isObject(spec) && spec.sources !== undefined && spec.sources !== null) {
    throw new UsageError(
      `${label}: the Application uses spec.sources (multi-source), which argo-app does not manage; edit it by hand or convert it to one spec.source`
    )
  }
  const source = isObject(spec) ? spec.source : undefined
  if (source !== undefined && source !== null && !isObject(source)) {
    throw new UsageError(
      `${label}: spec.source is ${describe(source)}, not a mapping; fix the manifest by hand`
    )
  }
}

function describe(v: Json): string {
  return Array.isArray(v) ? 'a list' : `the value ${JSON.stringify(v)}`
}

// ------------------------------------------------------------------ merge ---

const TOOLS = ['plugin', 'kustomize', 'helm', 'directory'] as const

/**
 * The edit as operations on the document's plain value, applied to `model`
 * as they are planned (each later one sees the earlier ones). Flags own what
 * they name; everything else stays:
 * - metadata.namespace when --app-namespace is given; labels and annotations
 *   key by key; --finalizer entries are added when missing;
 * - spec.project, spec.destination (server and name exclude each other),
 *   spec.source.repoURL/path/targetRevision;
 * - the source tool a flag selects: the other tool blocks are removed (Argo
 *   CD refuses two), and within the selected one the lists the flags give
 *   (plugin.env, kustomize.images, helm.parameters, helm.valueFiles) are
 *   replaced as whole lists; other keys of that block stay;
 * - syncPolicy.automated when --sync-policy is given (prune/selfHeal follow
 *   the flags, allowEmpty stays), syncOptions as a whole list when given.
 */
function planOps(model: Record<string, Json>, req: ManifestRequest): Op[] {
  const s = req.app
  const ops: Op[] = []
  const set = (path: Path, value: Json) => {
    if (deepEqual(getIn(model, path), value)) return
    ops.push({kind: 'set', path, value})
    setIn(model, path, value)
  }
  const del = (path: Path) => {
    if (getIn(model, path) === undefined) return
    ops.push({kind: 'delete', path})
    deleteIn(model, path)
  }
  // An owned list ends up exactly as given. When the file's items line up with
  // it, they are edited in place and new ones appended, so an item's quoting
  // and comments survive a tag bump; otherwise the list is written anew.
  const list = (path: Path, items: Json[]) => {
    if (!items.length) return del(path)
    const cur = getIn(model, path)
    if (
      !Array.isArray(cur) ||
      cur.length > items.length ||
      !cur.every((c, i) => lineUp(c, items[i]))
    ) {
      return set(path, items)
    }
    items.slice(0, cur.length).forEach((item, i) => {
      if (!isObject(item)) return set([...path, i], item)
      for (const [k, v] of Object.entries(item)) set([...path, i, k], v)
    })
    if (items.length > cur.length) {
      const values = items.slice(cur.length)
      ops.push({kind: 'append', path, values})
      setIn(model, path, [...(getIn(model, path) as Json[]), ...values])
    }
  }

  if (s.namespace) set(['metadata', 'namespace'], s.namespace)
  for (const [k, v] of Object.entries(s.labels)) set(['metadata', 'labels', k], v)
  for (const [k, v] of Object.entries(s.annotations)) set(['metadata', 'annotations', k], v)
  if (req.finalizers.length) {
    const have = getIn(model, ['metadata', 'finalizers'])
    const kept = Array.isArray(have) ? have : []
    const missing = req.finalizers.filter(f => !kept.includes(f))
    if (missing.length) list(['metadata', 'finalizers'], [...kept, ...missing])
  }

  set(['spec', 'project'], s.project)
  const dest = ['spec', 'destination']
  if ('server' in s.destination) {
    del([...dest, 'name'])
    set([...dest, 'server'], s.destination.server)
  } else {
    del([...dest, 'server'])
    set([...dest, 'name'], s.destination.name)
  }
  set([...dest, 'namespace'], s.destination.namespace)

  const src = ['spec', 'source']
  set([...src, 'repoURL'], s.repo)
  set([...src, 'path'], s.path)
  set([...src, 'targetRevision'], s.revision)
  const only = (tool: (typeof TOOLS)[number]) => {
    for (const other of TOOLS) if (other !== tool) del([...src, other])
  }
  if (s.plugin) {
    only('plugin')
    set([...src, 'plugin', 'name'], s.plugin.name)
    list(
      [...src, 'plugin', 'env'],
      s.plugin.env.map(e => ({name: e.name, value: e.value}))
    )
  } else if (s.kustomizeImages.length) {
    only('kustomize')
    list([...src, 'kustomize', 'images'], [...s.kustomizeImages])
  } else if (s.helmParams.length || s.helmValuesFiles.length) {
    only('helm')
    list(
      [...src, 'helm', 'parameters'],
      s.helmParams.map(p => ({name: p.name, value: p.value}))
    )
    list([...src, 'helm', 'valueFiles'], [...s.helmValuesFiles])
  }

  const policy = ['spec', 'syncPolicy']
  const opsBefore = ops.length
  const automated = [...policy, 'automated']
  if (s.syncPolicy === 'automated') {
    if (!isObject(getIn(model, automated))) {
      set(automated, {
        ...(s.autoPrune ? {prune: true} : {}),
        ...(s.selfHeal ? {selfHeal: true} : {})
      })
    } else {
      if (s.autoPrune) set([...automated, 'prune'], true)
      else del([...automated, 'prune'])
      if (s.selfHeal) set([...automated, 'selfHeal'], true)
      else del([...automated, 'selfHeal'])
      // `enabled: false` would keep auto-sync off although the flags turn it on.
      if (getIn(model, [...automated, 'enabled']) !== true) del([...automated, 'enabled'])
    }
  } else if (s.syncPolicy === 'none') {
    del(automated)
  }
  if (s.syncOptions?.length) list([...policy, 'syncOptions'], [...s.syncOptions])
  const left = getIn(model, policy)
  // Only a policy this run emptied goes; a `syncPolicy: {}` written by hand stays.
  const emptied = left === null || (isObject(left) && Object.keys(left).length === 0)
  if (emptied && ops.length > opsBefore) del(policy)
  return ops
}

function describeChanges(before: Record<string, Json>, after: Record<string, Json>): FieldChange[] {
  const asApp = (js: Record<string, Json>): Application => ({
    metadata: (isObject(js.metadata) ? js.metadata : {}) as unknown as Application['metadata'],
    spec: (isObject(js.spec) ? js.spec : {}) as unknown as Application['spec']
  })
  const changes: FieldChange[] = []
  const nsBefore = getIn(before, ['metadata', 'namespace'])
  const nsAfter = getIn(after, ['metadata', 'namespace'])
  if (!deepEqual(nsBefore, nsAfter)) {
    changes.push({
      path: 'metadata.namespace',
      ...(nsBefore !== undefined ? {before: nsBefore} : {}),
      ...(nsAfter !== undefined ? {after: nsAfter} : {})
    })
  }
  return [...changes, ...changedFields(asApp(before), asApp(after))]
}

// ---------------------------------------------------------- plain values ---

function isObject(v: unknown): v is Record<string, Json> {
  return !!v && typeof v === 'object' && !Array.isArray(v)
}

function getIn(root: Json, path: Path): Json | undefined {
  let cur: Json | undefined = root
  for (const k of path) {
    if (typeof k === 'number') {
      if (!Array.isArray(cur) || k >= cur.length) return undefined
      cur = cur[k]
    } else {
      if (!isObject(cur) || !Object.prototype.hasOwnProperty.call(cur, k)) return undefined
      cur = cur[k]
    }
  }
  return cur
}

/** Sets `value`, turning whatever is in the way on a key path into a mapping (as the writer does). */
function setIn(root: Record<string, Json>, path: Path, value: Json): void {
  let cur: Json = root
  path.forEach((k, i) => {
    const container = cur as Record<string, Json> & Json[]
    if (i === path.length - 1) {
      container[k as never] = structuredClone(value) as never
      return
    }
    // Index steps only go into lists the plan found; key steps may create mappings.
    if (typeof path[i + 1] === 'string' && !isObject(container[k as never])) {
      container[k as never] = {} as never
    }
    cur = container[k as never]
  })
}

function deleteIn(root: Record<string, Json>, path: Path): void {
  const parent = getIn(root, path.slice(0, -1))
  const k = path[path.length - 1]
  if (isObject(parent) && typeof k === 'string') delete parent[k]
}

/** Whether a file's list item can be edited in place into `want` (same shape, scalar fields). */
function lineUp(have: Json, want: Json): boolean {
  const scalar = (v: Json) => v !== null && typeof v !== 'object'
  if (scalar(have) && scalar(want)) return true
  if (!isObject(have) || !isObject(want)) return false
  const a = Object.keys(have).sort()
  const b = Object.keys(want).sort()
  return (
    a.length === b.length &&
    a.every((k, i) => k === b[i]) &&
    Object.values(have).every(scalar) &&
    Object.values(want).every(scalar)
  )
}

function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((x, i) => deepEqual(x, b[i]))
    )
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length && ka.every(k => k in b && deepEqual(a[k], b[k]))
  }
  return false
}

function nested(keys: Path, value: Json): Json {
  return keys.reduceRight<Json>((v, k) => {
    if (typeof k === 'number') throw new Error('internal error: an index under a missing key')
    return {[k]: v}
  }, value)
}

// --------------------------------------------------------------- rendering ---

interface Layout {
  /** Indentation of a nested mapping relative to its key. */
  unit: number
  /** Column of a block sequence's `-` relative to its key (0: indentless). */
  seq: number
  eol: string
}

const LAYOUT: Layout = {unit: 2, seq: 2, eol: '\n'}

function scalarText(v: Json, flow = false): string {
  if (typeof v === 'string') return renderString(v, flow)
  if (v === null) return 'null'
  return String(v)
}

function isCollection(v: Json): v is Json[] | Record<string, Json> {
  return v !== null && typeof v === 'object'
}

function isEmptyCollection(v: Json): boolean {
  return Array.isArray(v) ? v.length === 0 : isObject(v) && Object.keys(v).length === 0
}

function flowText(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(flowText).join(', ')}]`
  if (isObject(v)) {
    return `{${Object.entries(v)
      .map(([k, x]) => `${renderString(k, true)}: ${flowText(x)}`)
      .join(', ')}}`
  }
  return scalarText(v, true)
}

/** `key: value` as block lines at `col`; an empty key renders the value's lines only (the file root). */
function renderPair(key: string, value: Json, col: number, layout: Layout): string[] {
  const head = `${' '.repeat(col)}${renderString(key)}:`
  if (!isCollection(value) || isEmptyCollection(value)) {
    return [`${head} ${isCollection(value) ? flowText(value) : scalarText(value)}`]
  }
  return [
    head,
    ...renderValue(value, Array.isArray(value) ? col + layout.seq : col + layout.unit, layout)
  ]
}

/** A non-empty collection as block lines whose items start at `col`. */
function renderValue(value: Json[] | Record<string, Json>, col: number, layout: Layout): string[] {
  if (!Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => renderPair(k, v, col, layout))
  }
  const pad = ' '.repeat(col)
  return value.flatMap(item => {
    if (!isCollection(item) || isEmptyCollection(item)) {
      return [`${pad}- ${isCollection(item) ? flowText(item) : scalarText(item)}`]
    }
    if (Array.isArray(item)) return [`${pad}- ${flowText(item)}`]
    const lines = renderValue(item, col + 2, layout)
    return [`${pad}- ${lines[0].slice(col + 2)}`, ...lines.slice(1)]
  })
}

/** The file's own indentation, so added lines look like the lines around them. */
function detectLayout(text: string, doc: Document.Parsed): Layout {
  let unit = 0
  let seq: number | undefined
  const visit = (node: unknown, depth: number): void => {
    if (depth > 8 || !isMap(node) || node.flow) return
    for (const pair of node.items) {
      const key = pair.key as Node | null
      const v = pair.value as Node | null
      if (!key?.range || !v?.range) continue
      const keyCol = column(text, key.range[0])
      if (isMap(v) && !v.flow && v.items.length && startsLine(text, v.range[0])) {
        const d = column(text, (v.items[0].key as Node).range![0]) - keyCol
        if (d > 0 && (unit === 0 || d < unit)) unit = d
        visit(v, depth + 1)
      } else if (isSeq(v) && !v.flow && v.items.length) {
        seq ??= Math.max(0, column(text, v.range[0]) - keyCol)
        for (const item of v.items) visit(item, depth + 1)
      }
    }
  }
  visit(doc.contents, 0)
  // Without a list to copy, lists indent like mappings (what `yaml` and most editors write).
  return {unit: unit || 2, seq: seq ?? (unit || 2), eol: detectEol(text)}
}

// ----------------------------------------------------------------- writer ---

function findPair(map: YAMLMap, key: string | number): Pair<Node, Node | null> | undefined {
  return (map.items as Pair<Node, Node | null>[]).find(p => {
    const k = p.key
    return isScalar(k) && String(k.value) === key
  })
}

/** Where a node's own content ends: its last item's value, not comments trailing after it. */
function contentEnd(node: Node | null | undefined, fallback: number): number {
  if (!node?.range) return fallback
  if ((isMap(node) || isSeq(node)) && !node.flow && node.items.length) {
    const last = node.items[node.items.length - 1]
    if (isMap(node)) {
      const pair = last as Pair<Node, Node | null>
      const keyEnd = pair.key?.range?.[1] ?? node.range[1]
      return Math.max(keyEnd, contentEnd(pair.value, keyEnd))
    }
    return contentEnd(last as Node, node.range[1])
  }
  return node.range[1]
}

function noAlias(node: unknown, path: Path, label: string): void {
  if (isAlias(node)) {
    throw new UsageError(
      `${label}: ${path.join('.')} goes through a YAML alias (*${node.source}); write the value out in full, then run again`
    )
  }
}

function applyOp(text: string, index: number, op: Op, layout: Layout, label: string): string {
  const doc = parseYamlDocuments(text, label)[index]
  const root = doc.contents
  if (!isMap(root)) throw new Error('internal error: the Application document is not a mapping')
  const splices =
    op.kind === 'set'
      ? setSplices(text, root, op.path, op.value, layout, label)
      : op.kind === 'append'
        ? appendSplices(text, root, op.path, op.values, layout, label)
        : deleteSplices(text, root, op.path, layout, label)
  return applySplices(text, splices)
}

function internal(path: Path, why: string): Error {
  return new Error(`internal error: ${path.join('.')}: ${why}`)
}

function setSplices(
  text: string,
  root: YAMLMap,
  path: Path,
  value: Json,
  layout: Layout,
  label: string
): Splice[] {
  let node: Node = root
  let flow = !!root.flow
  for (let i = 0; i < path.length; i++) {
    const step = path[i]
    const last = i === path.length - 1
    if (typeof step === 'number') {
      const item: Node | undefined = isSeq(node) ? (node.items[step] as Node) : undefined
      noAlias(item, path.slice(0, i + 1), label)
      if (last && isScalar(item) && !isCollection(value)) {
        return [scalarSplice(text, item, value, flow)]
      }
      if (last || !isMap(item)) throw internal(path, 'not an item the plan can edit')
      node = item
      flow ||= !!item.flow
      continue
    }
    if (!isMap(node)) throw internal(path, 'expected a mapping')
    const pair = findPair(node, step)
    if (!pair)
      return insertSplices(text, node, step, nested(path.slice(i + 1), value), flow, layout)
    noAlias(pair.value, path.slice(0, i + 1), label)
    const v = pair.value
    const next = path[i + 1]
    if (
      !last &&
      ((typeof next === 'number' && isSeq(v)) || (typeof next === 'string' && isMap(v)))
    ) {
      node = v!
      flow ||= !!(v as YAMLMap).flow
      continue
    }
    const rest = last ? value : nested(path.slice(i + 1), value)
    return [replaceSplice(text, pair, rest, flow, layout)]
  }
  throw new Error('internal error: empty path')
}

/** Adds items at the end of an existing list, in its own style. */
function appendSplices(
  text: string,
  root: YAMLMap,
  path: Path,
  values: Json[],
  layout: Layout,
  label: string
): Splice[] {
  let node: Node | null = root
  let flow = !!root.flow
  for (const step of path) {
    const pair: Pair<Node, Node | null> | undefined =
      isMap(node) && typeof step === 'string' ? findPair(node, step) : undefined
    noAlias(pair?.value, path, label)
    if (!pair) throw internal(path, 'list to append to not found')
    node = pair.value
    flow ||= !!(node as YAMLMap | null)?.flow
  }
  if (!isSeq(node) || !node.items.length) throw internal(path, 'not a list')
  if (flow || node.flow) {
    const close = text.lastIndexOf(']', node.range![1])
    return [{start: close, end: close, text: values.map(v => `, ${flowText(v)}`).join('')}]
  }
  const at = lineEnd(text, lastContent(text, contentEnd(node, node.range![1])))
  return [
    insertLines(text, at, renderValue(values, column(text, node.range![0]), layout), layout.eol)
  ]
}

/** A scalar written over a scalar, in the author's quoting where it still holds the value. */
function scalarSplice(text: string, node: Scalar, value: Json, flow: boolean): Splice {
  const block = node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED'
  // Manifest strings must stay strings (a label `true` is invalid), so no number/bool carry-over.
  const rendered =
    typeof value === 'string'
      ? renderStringInStyle(value, block ? undefined : node.type, flow)
      : scalarText(value, flow)
  return {...scalarSpan(text, node), text: rendered}
}

function insertSplices(
  text: string,
  map: YAMLMap,
  key: string,
  value: Json,
  flow: boolean,
  layout: Layout
): Splice[] {
  if (flow || map.flow) {
    const close = text.lastIndexOf('}', map.range![1])
    const sep = map.items.length ? ', ' : ''
    return [
      {start: close, end: close, text: `${sep}${renderString(key, true)}: ${flowText(value)}`}
    ]
  }
  const first = map.items[0].key as Node
  const col = column(text, first.range![0])
  const at = lineEnd(text, lastContent(text, contentEnd(map, map.range![1])))
  return [insertLines(text, at, renderPair(key, value, col, layout), layout.eol)]
}

/** Replaces the value of `pair` with `value`, keeping the key and the author's style where it can. */
function replaceSplice(
  text: string,
  pair: Pair<Node, Node | null>,
  value: Json,
  flow: boolean,
  layout: Layout
): Splice {
  const v = pair.value
  const colon = colonAfter(text, pair.key)
  const filled = !!v?.range && v.range[1] > v.range[0]
  const nullish = !v || (isScalar(v) && (v.value === null || v.value === undefined))
  // From just after the colon to the end of the old value (0-width when the key has no value).
  const inlineSpan = (): Splice => ({
    start: colon + 1,
    end: filled ? lastContent(text, contentEnd(v, v!.range![1])) + 1 : colon + 1,
    text: ''
  })
  if (isScalar(v) && !nullish && !isCollection(value)) return scalarSplice(text, v, value, flow)
  const keepsFlow = (isMap(v) || isSeq(v)) && v.flow
  if (!isCollection(value) || isEmptyCollection(value) || flow || keepsFlow) {
    const rendered = isCollection(value) ? flowText(value) : scalarText(value, flow)
    if (keepsFlow) return {start: v!.range![0], end: v!.range![1], text: rendered}
    if (filled && isScalar(v)) return {start: v.range![0], end: v.range![1], text: rendered}
    return {...inlineSpan(), text: ` ${rendered}`}
  }
  const keyCol = column(text, pair.key.range![0])
  if ((isMap(v) || isSeq(v)) && v.items.length && startsLine(text, v.range![0])) {
    // Same kind of block: keep its indentation, replace its lines (a comment after the key stays).
    const sameKind = Array.isArray(value) ? isSeq(v) : isMap(v)
    const col = sameKind
      ? column(text, v.range![0])
      : keyCol + (Array.isArray(value) ? layout.seq : layout.unit)
    const start = lineStart(text, v.range![0])
    const end = lineEnd(text, lastContent(text, contentEnd(v, v.range![1])))
    const lines = renderValue(value, col, layout).join(layout.eol)
    return {start, end, text: text[end - 1] === '\n' ? lines + layout.eol : lines}
  }
  const col = keyCol + (Array.isArray(value) ? layout.seq : layout.unit)
  return {...inlineSpan(), text: layout.eol + renderValue(value, col, layout).join(layout.eol)}
}

function deleteSplices(
  text: string,
  root: YAMLMap,
  path: Path,
  layout: Layout,
  label: string
): Splice[] {
  let map = root
  let holder: Pair<Node, Node | null> | undefined
  for (const key of path.slice(0, -1)) {
    const pair = findPair(map, key)
    noAlias(pair?.value, path, label)
    if (!pair || !isMap(pair.value)) throw new Error(`internal error: ${path.join('.')} not found`)
    holder = pair
    map = pair.value
  }
  const last = path[path.length - 1]
  const pair = findPair(map, last)
  if (!pair) throw new Error(`internal error: ${path.join('.')} not found`)
  if (map.flow) {
    const kept = Object.fromEntries(
      (map.items as Pair<Node, Node | null>[])
        .filter(p => p !== pair)
        .map(p => [String((p.key as {value?: unknown}).value), (p.value?.toJSON() ?? null) as Json])
    )
    return [{start: map.range![0], end: map.range![1], text: flowText(kept)}]
  }
  if (map.items.length === 1) {
    // The mapping becomes empty: `{}` keeps it a mapping, as the plan expects.
    if (!holder) throw new Error('internal error: would empty the document')
    const colon = colonAfter(text, holder.key)
    const end = lineEnd(text, lastContent(text, contentEnd(map, map.range![1])))
    return [{start: colon + 1, end, text: ` {}${text[end - 1] === '\n' ? layout.eol : ''}`}]
  }
  const key = pair.key
  if (!startsLine(text, key.range![0])) {
    throw new UsageError(
      `${label}: cannot remove ${path.join('.')} in this layout; remove it by hand once, then run again`
    )
  }
  const end = lineEnd(text, lastContent(text, contentEnd(pair.value, key.range![1])))
  return [
    {
      start: lineStart(text, key.range![0]),
      end: Math.max(end, lineEnd(text, key.range![1])),
      text: ''
    }
  ]
}

/** Reads the result back: a splice bug must never reach a commit. */
function verify(
  before: string,
  after: string,
  index: number,
  model: Record<string, Json>,
  label: string
): void {
  const fail = (why: string) =>
    new Error(`internal error: editing ${label} ${why}; nothing was written`)
  let docs: Document.Parsed[]
  try {
    docs = parseYamlDocuments(after, label)
  } catch (e) {
    throw fail(`produced YAML that does not parse (${(e as Error).message})`)
  }
  const old = parseYamlDocuments(before, label)
  if (docs.length !== old.length) throw fail('changed the number of documents')
  for (let i = 0; i < docs.length; i++) {
    const want = i === index ? model : (old[i].toJS() as Json)
    if (!deepEqual(docs[i].toJS() as Json, want)) {
      throw fail(
        i === index ? 'does not read back as the planned Application' : `changed document ${i}`
      )
    }
  }
}
