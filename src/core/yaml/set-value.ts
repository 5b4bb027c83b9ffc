/**
 * `--set file:key.path=value`: replaces one existing scalar in any YAML file
 * (Helm values, an Argo CD Application, a multi-document manifest) by splicing
 * the source text, so nothing but that scalar changes.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type Node,
  type Scalar,
  type YAMLMap,
  type YAMLSeq
} from 'yaml'
import {UsageError} from '../errors.js'
import {goYamlV2Kind, renderString, renderStringInStyle} from './scalar-style.js'
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
  scalarSource,
  scalarSpan,
  startsLine,
  type Splice
} from './source-text.js'

export type PathStep =
  | {kind: 'key'; key: string}
  | {kind: 'index'; index: number}
  | {kind: 'select'; field: string[]; value: string}

export interface SetArg {
  /** Root-relative file as given. */
  file: string
  /** Steps applied to the document stream first when `docSelector` is set. */
  docSelector?: PathStep
  steps: PathStep[]
  value: string
  /** The key path as written, for messages and reports. */
  keyPath: string
}

export type SetValueResult =
  | {kind: 'changed'; text: string; before: string | null; after: string; created: boolean}
  | {kind: 'unchanged'; text: string; before: string | null; after: string; created: false}

const SET_FORM = '<file>:<key.path>=<value>, e.g. values.yaml:image.tag=1.2.3'

function bad(arg: string, why: string): never {
  throw new UsageError(`invalid --set ${JSON.stringify(arg)}: ${why}; use ${SET_FORM}`)
}

/** Parses `a.b[0].c[name=web]` (keys may be escaped `\.` or quoted `"a.b"`). */
export function parseKeyPath(
  path: string,
  arg = path
): {docSelector?: PathStep; steps: PathStep[]} {
  const steps: PathStep[] = []
  let docSelector: PathStep | undefined
  let i = 0
  const readSelector = (): PathStep => {
    const close = findClose(path, i)
    if (close < 0) bad(arg, `unclosed '[' in the key path`)
    const inner = path.slice(i + 1, close)
    i = close + 1
    if (/^\d+$/.test(inner)) return {kind: 'index', index: Number(inner)}
    const eq = inner.indexOf('=')
    if (eq <= 0)
      bad(arg, `'[${inner}]' is neither an index ([0]) nor a field selector ([name=web])`)
    const field = inner.slice(0, eq).split('.').map(unquote)
    if (field.some(f => f === '')) bad(arg, `empty field name in '[${inner}]'`)
    return {kind: 'select', field, value: unquote(inner.slice(eq + 1))}
  }
  if (path[0] === '[') {
    docSelector = readSelector()
    if (path[i] === '.') i++
  }
  while (i < path.length) {
    if (path[i] === '[') {
      if (steps.length === 0)
        bad(arg, `a key path starts with a key (a leading [..] selects the document only once)`)
      steps.push(readSelector())
      if (path[i] === '.') {
        i++
        if (i >= path.length) bad(arg, 'the key path ends with a dot')
      } else if (i < path.length && path[i] !== '[') bad(arg, `expected '.' or '[' after ']'`)
      continue
    }
    let key = ''
    if (path[i] === '"') {
      const end = path.indexOf('"', i + 1)
      if (end < 0) bad(arg, 'unclosed quote in the key path')
      key = path.slice(i + 1, end)
      i = end + 1
    } else {
      while (i < path.length && path[i] !== '.' && path[i] !== '[') {
        if (path[i] === '\\' && i + 1 < path.length) i++
        key += path[i++]
      }
    }
    if (key === '') bad(arg, 'empty key in the key path')
    steps.push({kind: 'key', key})
    if (path[i] === '.') {
      i++
      if (i >= path.length) bad(arg, 'the key path ends with a dot')
    }
  }
  if (steps.length === 0) bad(arg, 'the key path is empty')
  return {docSelector, steps}
}

function findClose(s: string, open: number): number {
  let quote = false
  for (let j = open + 1; j < s.length; j++) {
    if (s[j] === '"') quote = !quote
    else if (s[j] === ']' && !quote) return j
  }
  return -1
}

function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s
}

/** Splits `file:key.path=value`; the `=` inside `[name=web]` does not count. */
export function parseSetArg(arg: string): SetArg {
  const colon = arg.indexOf(':')
  if (colon < 0) bad(arg, 'missing ":" between the file and the key path')
  if (colon === 0) bad(arg, 'missing the file part before ":"')
  const file = arg.slice(0, colon)
  const rest = arg.slice(colon + 1)
  let depth = 0
  let quote = false
  let eq = -1
  for (let j = 0; j < rest.length; j++) {
    const c = rest[j]
    if (c === '"') quote = !quote
    else if (quote) continue
    else if (c === '\\') j++
    else if (c === '[') depth++
    else if (c === ']') depth--
    else if (c === '=' && depth === 0) {
      eq = j
      break
    }
  }
  if (eq < 0 && depth > 0) bad(arg, "unclosed '[' in the key path")
  if (eq < 0) bad(arg, 'missing "=<value>"')
  const keyPath = rest.slice(0, eq)
  if (!keyPath) bad(arg, 'missing the key path between ":" and "="')
  const {docSelector, steps} = parseKeyPath(keyPath, arg)
  return {file, docSelector, steps, value: rest.slice(eq + 1), keyPath}
}

function stepText(s: PathStep): string {
  if (s.kind === 'key') return s.key
  if (s.kind === 'index') return `[${s.index}]`
  return `[${s.field.join('.')}=${s.value}]`
}

export function formatSteps(steps: readonly PathStep[]): string {
  return steps.map((s, i) => (s.kind === 'key' && i > 0 ? `.${stepText(s)}` : stepText(s))).join('')
}

type Walk =
  | {
      kind: 'found'
      node: Node | null
      parentPair?: {key: Node; value: Node | null}
      depth: number
      flow: boolean
    }
  | {
      kind: 'missing'
      depth: number
      node: Node | null
      parentPair?: {key: Node; value: Node | null}
    }

function isNull(node: unknown): boolean {
  return (
    node == null ||
    (isScalar(node) && node.type === 'PLAIN' && /^(~|null|Null|NULL|)$/.test(node.source ?? ''))
  )
}

function findKey(map: YAMLMap, key: string): {key: Node; value: Node | null} | undefined {
  for (const pair of map.items) {
    const k = pair.key
    const text = isScalar(k) ? scalarSource(k) : String(k)
    if (text === key) return {key: k as Node, value: (pair.value as Node) ?? null}
  }
  return undefined
}

function noAlias(label: string, keyPath: string, node: unknown): void {
  if (isAlias(node)) {
    throw new UsageError(
      `${label}: ${keyPath} goes through a YAML alias (*${node.source}); set the anchored value instead`
    )
  }
}

function matchesSelector(node: unknown, sel: {field: string[]; value: string}): boolean {
  let cur: unknown = node
  for (const f of sel.field) {
    if (!isMap(cur)) return false
    const hit = findKey(cur, f)
    if (!hit) return false
    cur = hit.value
  }
  return isScalar(cur) && scalarSource(cur) === sel.value
}

function walk(root: Node | null, steps: readonly PathStep[], label: string, keyPath: string): Walk {
  let node: Node | null = root
  let parentPair: {key: Node; value: Node | null} | undefined
  let flow = false
  for (const [depth, step] of steps.entries()) {
    noAlias(label, keyPath, node)
    if ((isMap(node) || isSeq(node)) && node.flow) flow = true
    if (step.kind === 'key') {
      if (!isMap(node)) return {kind: 'missing', depth, node, parentPair}
      const hit = findKey(node, step.key)
      if (!hit) return {kind: 'missing', depth, node, parentPair}
      parentPair = hit
      node = hit.value
      continue
    }
    if (!isSeq(node)) return {kind: 'missing', depth, node, parentPair}
    const seq: YAMLSeq = node
    parentPair = undefined
    if (step.kind === 'index') {
      if (step.index >= seq.items.length) return {kind: 'missing', depth, node, parentPair}
      node = seq.items[step.index] as Node
      continue
    }
    const hits = seq.items.filter(it => matchesSelector(it, step))
    if (hits.length === 0) return {kind: 'missing', depth, node, parentPair}
    if (hits.length > 1) {
      throw new UsageError(
        `${label}: ${stepText(step)} in ${keyPath} matches ${hits.length} items; select one by index or by a field that is unique`
      )
    }
    node = hits[0] as Node
  }
  noAlias(label, keyPath, node)
  return {kind: 'found', node, parentPair, depth: steps.length, flow}
}

/** How a new value is written where `old` was: numbers and booleans keep their type, strings stay strings. */
export function renderSetValue(value: string, old: Scalar | null, flow: boolean): string {
  if (old && old.type === 'PLAIN' && !old.tag && !isNull(old)) {
    const oldKind = goYamlV2Kind(old.source ?? '')
    const newKind = goYamlV2Kind(value)
    const roundTrips = newKind !== 'float' || String(Number(value)) === value
    if (
      (oldKind === 'int' || oldKind === 'float' || oldKind === 'bool') &&
      oldKind === newKind &&
      roundTrips
    ) {
      return value
    }
  }
  return renderStringInStyle(value, old && !isNull(old) ? old.type : undefined, flow)
}

function indentUnit(text: string, docs: readonly Document.Parsed[]): number {
  // The smallest step between a mapping key and its nested mapping's keys.
  let best = 0
  const visitMap = (map: YAMLMap, depth: number) => {
    if (depth > 6) return
    for (const pair of map.items) {
      const v = pair.value
      if (isMap(v) && !v.flow && v.items.length && isScalar(pair.key) && pair.key.range) {
        const d = column(text, (v.items[0].key as Node).range![0]) - column(text, pair.key.range[0])
        if (d > 0 && (best === 0 || d < best)) best = d
        visitMap(v, depth + 1)
      }
    }
  }
  for (const doc of docs) if (isMap(doc.contents)) visitMap(doc.contents, 0)
  return best || 2
}

function replaceScalar(text: string, node: Scalar, value: string, flow: boolean): Splice {
  return {...scalarSpan(text, node), text: renderSetValue(value, node, flow)}
}

/** Writes a null value (`key:` or `key: ~`) as `key: value`. */
function fillNull(
  text: string,
  keyNode: Node,
  valueNode: Node | null,
  value: string,
  flow: boolean
): Splice {
  const rendered = renderString(value, flow)
  if (valueNode?.range && valueNode.range[1] > valueNode.range[0]) {
    return {start: valueNode.range[0], end: valueNode.range[1], text: rendered}
  }
  const colon = colonAfter(text, keyNode)
  return {start: colon + 1, end: colon + 1, text: ` ${rendered}`}
}

/** `a:` / `  b: value` lines for the keys, the first at `col`. */
function renderNested(keys: string[], value: string, col: number, unit: number): string[] {
  return keys.map(
    (k, i) =>
      `${' '.repeat(col + i * unit)}${renderString(k)}:${i === keys.length - 1 ? ` ${renderString(value)}` : ''}`
  )
}

function renderFlowNested(keys: string[], value: string): string {
  let out = renderString(value, true)
  for (let i = keys.length - 1; i >= 1; i--) out = `{${renderString(keys[i], true)}: ${out}}`
  return `${renderString(keys[0], true)}: ${out}`
}

/** Splices that add the missing `keys` under the deepest node found. */
function createKeys(
  text: string,
  eol: string,
  unit: number,
  miss: Extract<Walk, {kind: 'missing'}>,
  keys: string[],
  value: string,
  label: string,
  keyPath: string,
  docEnd: number
): Splice[] {
  const node = miss.node
  if (isMap(node) && node.flow) {
    const close = text.lastIndexOf('}', node.range![1])
    const sep = node.items.length ? ', ' : ''
    return [{start: close, end: close, text: `${sep}${renderFlowNested(keys, value)}`}]
  }
  if (isMap(node) && node.items.length) {
    const first = (node.items[0].key as Node).range![0]
    if (
      !startsLine(text, first) &&
      !/^[ \t]*-[ \t]/.test(text.slice(lineStart(text, first), first))
    ) {
      throw new UsageError(
        `${label}: cannot add ${keyPath} in this layout; add the key by hand once`
      )
    }
    const at = lineEnd(text, lastContent(text, node.range![1]))
    return [insertLines(text, at, renderNested(keys, value, column(text, first), unit), eol)]
  }
  if (isNull(node)) {
    if (miss.parentPair) {
      const keyNode = miss.parentPair.key
      const splices: Splice[] = []
      const v = miss.parentPair.value
      if (v?.range && v.range[1] > v.range[0]) {
        splices.push({start: colonAfter(text, keyNode) + 1, end: v.range[1], text: ''})
      }
      const at = lineEnd(text, v?.range && v.range[1] > v.range[0] ? v.range[1] : keyNode.range![1])
      const lines = renderNested(keys, value, column(text, keyNode.range![0]) + unit, unit)
      splices.push(insertLines(text, at, lines, eol))
      return splices
    }
    if (miss.depth === 0) {
      const at = docEnd
      // At the end of the file the new keys end their own line either way.
      const lines = renderNested(keys, value, 0, unit)
      const open = at > 0 && text[at - 1] !== '\n'
      return [{start: at, end: at, text: (open ? eol : '') + lines.join(eol) + eol}]
    }
  }
  const what = isSeq(node) ? 'a sequence' : 'a scalar'
  throw new UsageError(
    `${label}: cannot create ${keyPath}: the value at ${keys[0]}'s parent is ${what}; fix the key path`
  )
}

/** Reads the edit back: a splice bug must never reach a commit. */
function verified(
  out: string,
  set: Pick<SetArg, 'docSelector' | 'steps' | 'keyPath' | 'value'>,
  label: string,
  docCount: number
): string {
  let back: string | null | undefined
  let count = -1
  try {
    count = parseYamlDocuments(out, label).length
    back = getValueInText(out, set, label)
  } catch (e) {
    throw new Error(
      `internal error: setting ${set.keyPath} in ${label} produced YAML that does not parse (${(e as Error).message}); nothing was written`
    )
  }
  if (back !== set.value || count !== Math.max(docCount, 1)) {
    throw new Error(
      `internal error: setting ${set.keyPath} in ${label} does not read back as ${JSON.stringify(set.value)}; nothing was written`
    )
  }
  return out
}

export interface SetOptions {
  createKeys?: boolean
  label?: string
}

/** Sets one scalar in `text`; multi-document aware (see docs/set-image.md). */
export function setValueInText(
  text: string,
  set: Pick<SetArg, 'docSelector' | 'steps' | 'value' | 'keyPath'>,
  options: SetOptions = {}
): SetValueResult {
  const label = options.label ?? 'file'
  const docs = parseYamlDocuments(text, label)
  const keyPath = set.keyPath
  let candidates = docs.map((doc, index) => ({doc, index}))
  const sel = set.docSelector
  if (sel) {
    if (sel.kind === 'index') candidates = candidates.filter(c => c.index === sel.index)
    else if (sel.kind === 'select')
      candidates = candidates.filter(c => matchesSelector(c.doc.contents, sel))
    if (candidates.length === 0) {
      throw new UsageError(
        `${label}: no document matches ${stepText(sel)} (the file has ${docs.length}); fix the document selector`
      )
    }
    if (candidates.length > 1) {
      throw new UsageError(
        `${label}: ${stepText(sel)} matches ${candidates.length} documents; use a selector that matches one, e.g. [metadata.name=<name>]`
      )
    }
  }
  if (docs.length === 0 && options.createKeys) {
    const keys = set.steps.map(s => {
      if (s.kind !== 'key')
        throw new UsageError(
          `${label}: --create-keys adds mapping keys only; the file is empty, so ${keyPath} cannot be created`
        )
      return s.key
    })
    const open = text.length > 0 && !text.endsWith('\n')
    const eol = detectEol(text)
    const out = text + (open ? eol : '') + renderNested(keys, set.value, 0, 2).join(eol) + eol
    verified(out, set, label, 1)
    return {kind: 'changed', text: out, before: null, after: set.value, created: true}
  }
  const walks = candidates.map(c => ({
    ...c,
    walk: walk((c.doc.contents as Node) ?? null, set.steps, label, keyPath)
  }))
  const found = walks.filter(w => w.walk.kind === 'found')
  if (found.length > 1) {
    throw new UsageError(
      `${label}: ${keyPath} exists in ${found.length} documents (${found.map(f => f.index).join(', ')}, counting from 0); ` +
        `prefix the key path with a document selector, e.g. ${label}:[${found[0].index}].${keyPath} or [kind=<Kind>].${keyPath}`
    )
  }
  const eol = detectEol(text)
  if (found.length === 1) {
    const w = found[0].walk as Extract<Walk, {kind: 'found'}>
    const node = w.node
    if (isMap(node) || isSeq(node)) {
      throw new UsageError(
        `${label}: ${keyPath} is a ${isMap(node) ? 'mapping' : 'sequence'}, not a single value; point the key path at a scalar inside it`
      )
    }
    if (isNull(node)) {
      if (!w.parentPair)
        throw new UsageError(
          `${label}: ${keyPath} is an empty sequence item; point the key path at a mapping key`
        )
      const splice = fillNull(text, w.parentPair.key, node, set.value, w.flow)
      const out = verified(applySplices(text, [splice]), set, label, docs.length)
      return {kind: 'changed', text: out, before: null, after: set.value, created: false}
    }
    const scalar = node as Scalar
    const before = scalarSource(scalar)
    if (
      before === set.value &&
      (scalar.type !== 'PLAIN' || renderSetValue(set.value, scalar, w.flow) === before)
    ) {
      return {kind: 'unchanged', text, before, after: set.value, created: false}
    }
    const out = verified(
      applySplices(text, [replaceScalar(text, scalar, set.value, w.flow)]),
      set,
      label,
      docs.length
    )
    return out === text
      ? {kind: 'unchanged', text, before, after: set.value, created: false}
      : {kind: 'changed', text: out, before, after: set.value, created: false}
  }
  if (!options.createKeys) {
    const deepest = Math.max(0, ...walks.map(w => w.walk.depth))
    const have = formatSteps(set.steps.slice(0, deepest))
    const where =
      deepest > 0
        ? `the file has ${have} but not ${stepText(set.steps[deepest])} under it`
        : `no document has ${stepText(set.steps[0])}`
    // The hint only where --create-keys would work: it creates mapping keys, never sequence items.
    const creatable = set.steps.slice(deepest).every(s => s.kind === 'key')
    throw new UsageError(
      `${label}: key ${keyPath} not found (${where}); fix the key path${
        creatable
          ? ', or pass --create-keys to add it'
          : ` (--create-keys cannot help: it adds mapping keys, not the sequence item ${stepText(set.steps.slice(deepest).find(s => s.kind !== 'key')!)})`
      }`
    )
  }
  // Create under the document that already has the longest part of the path.
  const nonEmpty = walks.filter(w => w.doc.contents != null || walks.length === 1)
  const pool = nonEmpty.length ? nonEmpty : walks
  const deepest = Math.max(...pool.map(w => w.walk.depth))
  const best = pool.filter(w => w.walk.depth === deepest)
  if (best.length !== 1) {
    throw new UsageError(
      `${label}: cannot tell which of ${best.length} documents should get ${keyPath}; prefix the key path with a document selector, e.g. [${best[0]?.index ?? 0}].${keyPath}`
    )
  }
  const target = best[0]
  const miss = target.walk as Extract<Walk, {kind: 'missing'}>
  const rest = set.steps.slice(miss.depth)
  const keys = rest.map(s => {
    if (s.kind !== 'key') {
      throw new UsageError(
        `${label}: --create-keys adds mapping keys only, and ${stepText(s)} in ${keyPath} needs an existing sequence item; add it by hand once`
      )
    }
    return s.key
  })
  const docRange = target.doc.range
  const docEnd = docRange[2] < text.length ? lineStart(text, docRange[2]) : text.length
  const splices = createKeys(
    text,
    eol,
    indentUnit(text, docs),
    miss,
    keys,
    set.value,
    label,
    keyPath,
    docEnd
  )
  const out = verified(applySplices(text, splices), set, label, docs.length)
  return {kind: 'changed', text: out, before: null, after: set.value, created: true}
}

/** Reads one scalar (for reports and tests); undefined when the path is missing. */
export function getValueInText(
  text: string,
  set: Pick<SetArg, 'docSelector' | 'steps' | 'keyPath'>,
  label = 'file'
): string | null | undefined {
  const docs = parseYamlDocuments(text, label)
  let candidates = docs.map((doc, index) => ({doc, index}))
  const sel = set.docSelector
  if (sel?.kind === 'index') candidates = candidates.filter(c => c.index === sel.index)
  else if (sel?.kind === 'select')
    candidates = candidates.filter(c => matchesSelector(c.doc.contents, sel))
  for (const c of candidates) {
    const w = walk((c.doc.contents as Node) ?? null, set.steps, label, set.keyPath)
    if (w.kind !== 'found') continue
    if (isNull(w.node)) return null
    if (isScalar(w.node)) return scalarSource(w.node)
  }
  return undefined
}
