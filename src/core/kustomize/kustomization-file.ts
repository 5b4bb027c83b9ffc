/**
 * Reads the `images:` list of a kustomization the way kustomize does (same
 * errors) and writes a new list back WITHOUT re-serialising the file: only the
 * entries that change are rewritten; comments, blank lines, key order, quoting,
 * indentation, document markers, BOM and CRLF everywhere else stay as they were.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  visit,
  type Document,
  type Node,
  type Pair,
  type Scalar,
  type YAMLMap,
  type YAMLSeq
} from 'yaml'
import {UsageError} from '../errors.js'
import {
  formatImageEntry,
  INVALID_IMAGE_FORMAT,
  sameEntry,
  type ImageEntry,
  type ImageField
} from './image-arg.js'
import {mergeImages, parseImageArgs} from './image-merge.js'
import {goYamlV2Kind, renderString, renderStringInStyle} from '../yaml/scalar-style.js'
import {
  applySplices,
  column,
  detectEol,
  lastContent,
  lineEnd,
  lineNumber,
  lineStart,
  parseYamlDocuments,
  scalarSource,
  startsLine,
  type Splice
} from '../yaml/source-text.js'

/** Kustomize's names, in its order (konfig.RecognizedKustomizationFileNames). */
export const KUSTOMIZATION_FILE_NAMES = [
  'kustomization.yaml',
  'kustomization.yml',
  'Kustomization'
] as const

/** Whether `path` (any directory) names a kustomization file. */
export function isKustomizationFile(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1)
  return (KUSTOMIZATION_FILE_NAMES as readonly string[]).includes(name)
}

/** One entry that a write changes; `before`/`after` are compact references. */
export interface ImageChange {
  image: string
  before: string | null
  after: string | null
}

export type SetImagesResult =
  | {kind: 'changed'; changed: true; text: string; changes: ImageChange[]}
  | {kind: 'unchanged'; changed: false; text: string; changes: ImageChange[]}

type ListKey = 'images' | 'imageTags'

interface PairInfo {
  field: ImageField
  keyStart: number
  keyEnd: number
  /** null when the value is missing or written empty (`newTag:`). */
  valueNode: Scalar | null
  value: string
}

interface ItemInfo {
  list: ListKey
  entry: ImageEntry
  node: Node | null
  flowMap: boolean
  pairs: PairInfo[]
  /** Values can be replaced in place (plain keys, one-line scalars, no anchors). */
  editable: boolean
  start: number
  end: number
  /** Block lists: where the `-` is, and the lines the item owns (leading comments included). */
  dash: number
  chunkStart: number
  chunkEnd: number
}

interface ListInfo {
  key: ListKey
  pair: Pair
  keyStart: number
  keyEnd: number
  style: 'block' | 'flow' | 'empty'
  valueNode: Node | null
  items: ItemInfo[]
}

interface ParsedKustomization {
  text: string
  label: string
  eol: '\n' | '\r\n'
  doc: Document.Parsed | null
  root: YAMLMap | null
  images?: ListInfo
  imageTags?: ListInfo
}

const NATURAL_ORDER: ImageField[] = ['name', 'newName', 'newTag', 'digest', 'tagSuffix']
// Kustomize writes keys sorted, so files it wrote have `digest` before `name`.
const KUSTOMIZE_ORDER: ImageField[] = ['digest', 'name', 'newName', 'newTag', 'tagSuffix']

/** Go's encoding/json matches field names case-insensitively (with Unicode simple folding). */
function foldKey(key: string): string {
  return key
    .replace(/\u017f/g, 's')
    .replace(/\u212a/g, 'k')
    .toLowerCase()
}

const FIELD_BY_FOLD: Record<string, ImageField> = {
  name: 'name',
  newname: 'newName',
  newtag: 'newTag',
  digest: 'digest',
  tagsuffix: 'tagSuffix'
}

function fixFor(field: string, source: string, kind: string): string {
  if (kind === 'number' || kind === 'bool' || kind === 'null') {
    return `quote the value (${field}: "${source}") so it reads as a string`
  }
  return `write ${field} as a single string value`
}

function keyText(node: unknown): string {
  if (isScalar(node)) return node.source ?? String(node.value)
  return String(node)
}

type JsonKind = 'null' | 'string' | 'number' | 'bool' | 'object' | 'array'

/** What sigs.k8s.io/yaml's YAMLToJSON turns a node into. */
function jsonKind(doc: Document.Parsed, node: unknown): JsonKind {
  if (isAlias(node)) return jsonKind(doc, node.resolve(doc))
  if (isMap(node)) return 'object'
  if (isSeq(node)) return 'array'
  if (!isScalar(node)) return 'null'
  const tag = node.tag
  if (tag === 'tag:yaml.org,2002:str' || tag === 'tag:yaml.org,2002:binary') return 'string'
  if (tag === 'tag:yaml.org,2002:int' || tag === 'tag:yaml.org,2002:float') return 'number'
  if (tag === 'tag:yaml.org,2002:bool') return 'bool'
  if (tag === 'tag:yaml.org,2002:null') return 'null'
  if (node.type !== 'PLAIN') return 'string'
  const kind = goYamlV2Kind(node.source ?? String(node.value ?? ''))
  return kind === 'int' || kind === 'float' ? 'number' : kind === 'string' ? 'string' : kind
}

function isEmptyScalar(node: Scalar): boolean {
  return node.type === 'PLAIN' && (node.source ?? '') === ''
}

function fail(p: ParsedKustomization, offset: number, cause: string, fix: string): never {
  throw new UsageError(`${p.label}: ${cause} (line ${lineNumber(p.text, offset)}); ${fix}`)
}

function findDash(text: string, nodeStart: number): number {
  let ls = lineStart(text, nodeStart)
  const before = text.slice(ls, nodeStart)
  const same = /^([ \t]*)-(?=[ \t]|$)/.exec(before)
  if (same) return ls + same[1].length
  // `-` alone on a line, the entry below it.
  while (ls > 0) {
    ls = lineStart(text, ls - 1)
    const line = text.slice(ls, lineEnd(text, ls))
    const m = /^([ \t]*)-[ \t]*(#.*)?\r?\n?$/.exec(line)
    if (m) return ls + m[1].length
    if (!/^[ \t]*(#.*)?\r?\n?$/.test(line)) break
  }
  const i = text.lastIndexOf('-', nodeStart)
  return i >= 0 ? i : nodeStart
}

function readItem(
  p: ParsedKustomization,
  doc: Document.Parsed,
  list: ListKey,
  node: unknown
): ItemInfo {
  const range = (node as Node | null)?.range ?? [0, 0, 0]
  const item: ItemInfo = {
    list,
    entry: {},
    node: (node as Node) ?? null,
    flowMap: false,
    pairs: [],
    editable: false,
    start: range[0],
    end: range[1],
    dash: range[0],
    chunkStart: range[0],
    chunkEnd: range[1]
  }
  const target = isAlias(node) ? node.resolve(doc) : node
  if (target == null || (isScalar(target) && jsonKind(doc, target) === 'null')) return item
  if (!isMap(target)) {
    fail(
      p,
      range[0],
      `invalid Kustomization: json: cannot unmarshal ${jsonKind(doc, target)} into Go struct field Kustomization.${list} of type types.Image`,
      `write each ${list} entry as a mapping (- name: <image>)`
    )
  }
  item.flowMap = target.flow === true
  let editable = !isAlias(node) && !(target as Node & {anchor?: string}).anchor
  const seen = new Set<ImageField>()
  const raw: ImageEntry = {}
  for (const pair of target.items) {
    const key = keyText(pair.key)
    const keyNode = pair.key as Node | null
    const keyStart = keyNode?.range?.[0] ?? range[0]
    const field = FIELD_BY_FOLD[foldKey(key)]
    if (!field) {
      fail(
        p,
        keyStart,
        `invalid Kustomization: json: unknown field "${key}"`,
        `use only name, newName, newTag, digest and tagSuffix in ${list} entries`
      )
    }
    const kind = jsonKind(doc, pair.value)
    if (kind !== 'null' && kind !== 'string') {
      const src = isScalar(pair.value) ? scalarSource(pair.value) : ''
      fail(
        p,
        keyStart,
        `invalid Kustomization: json: cannot unmarshal ${kind} into Go struct field Image.${list}.${field} of type string`,
        fixFor(field, src, kind)
      )
    }
    let valueNode: Scalar | null = null
    let value = ''
    const v = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value
    if (isAlias(pair.value)) editable = false
    if (isScalar(v) && kind === 'string') {
      valueNode = v
      value = scalarSource(v)
    } else if (isScalar(v) && !isEmptyScalar(v)) valueNode = v
    // encoding/json: the last of several case-variants of a key wins.
    if (value) raw[field] = value
    else delete raw[field]
    if (seen.has(field)) editable = false
    seen.add(field)
    const keyOk = isScalar(keyNode) && !keyNode.anchor && !keyNode.tag
    const vOk =
      valueNode === null ||
      ((valueNode.type === 'PLAIN' ||
        valueNode.type === 'QUOTE_DOUBLE' ||
        valueNode.type === 'QUOTE_SINGLE') &&
        !valueNode.anchor &&
        !valueNode.tag)
    const end = valueNode?.range?.[1] ?? keyNode?.range?.[1] ?? keyStart
    if (!keyOk || !vOk || p.text.slice(keyStart, end).includes('\n')) editable = false
    item.pairs.push({field, keyStart, keyEnd: keyNode?.range?.[1] ?? keyStart, valueNode, value})
  }
  item.entry = raw
  item.editable = editable
  return item
}

function readList(
  p: ParsedKustomization,
  doc: Document.Parsed,
  key: ListKey,
  pair: Pair
): ListInfo {
  const keyNode = pair.key as Node
  const info: ListInfo = {
    key,
    pair,
    keyStart: keyNode.range![0],
    keyEnd: keyNode.range![1],
    style: 'empty',
    valueNode: (pair.value as Node) ?? null,
    items: []
  }
  const value = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value
  const kind = jsonKind(doc, value)
  if (kind === 'null') return info
  if (!isSeq(value) || isAlias(pair.value)) {
    if (!isSeq(value)) {
      fail(
        p,
        info.keyStart,
        `invalid Kustomization: json: cannot unmarshal ${kind} into Go struct field Kustomization.${key} of type []types.Image`,
        `write ${key} as a list of entries (- name: <image>)`
      )
    }
    throw new UsageError(
      `${p.label}: ${key} is a YAML alias; write the list out in place so it can be edited`
    )
  }
  const seq = value as YAMLSeq
  info.style = seq.flow ? (seq.items.length === 0 ? 'empty' : 'flow') : 'block'
  let prevEnd = lineEnd(p.text, info.keyEnd)
  for (const node of seq.items) {
    const item = readItem(p, doc, key, node)
    if (info.style === 'block') {
      item.dash = findDash(p.text, item.start)
      const last = Math.max(item.dash, lastContent(p.text, item.end))
      item.chunkStart = prevEnd
      item.chunkEnd = lineEnd(p.text, last)
      prevEnd = item.chunkEnd
      if (item.editable && !item.flowMap) {
        // Line edits need each key on its own line, the first on the `-` line.
        item.editable = item.pairs.every((pr, i) =>
          i === 0
            ? lineStart(p.text, pr.keyStart) === lineStart(p.text, item.dash)
            : startsLine(p.text, pr.keyStart)
        )
      }
    }
    info.items.push(item)
  }
  return info
}

function parseKustomization(text: string, label: string): ParsedKustomization {
  const p: ParsedKustomization = {text, label, eol: detectEol(text), doc: null, root: null}
  // go-yaml refuses these before parsing; an edit that kept one would push a file kustomize rejects.
  const control = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.exec(text)
  if (control) {
    fail(
      p,
      control.index,
      'invalid Kustomization: yaml: control characters are not allowed',
      `remove the ${control[0] === '\u0000' ? 'NUL byte' : `control character U+${control[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`} from the file`
    )
  }
  // go-yaml v2 reads only the first document of a kustomization.
  const doc = parseYamlDocuments(text, label)[0] ?? null
  p.doc = doc
  if (!doc) return p
  const root = doc.contents
  if (root == null) return p
  if (isScalar(root) && jsonKind(doc, root) === 'null') {
    // An explicit `null` (or `~`) document: kustomize reads it as no kustomization at all.
    fail(
      p,
      root.range?.[0] ?? 0,
      `${label.split('/').pop()} is empty`,
      'write its fields (resources:, images:, ...) in place of the null document'
    )
  }
  if (!isMap(root)) {
    fail(
      p,
      root.range?.[0] ?? 0,
      `invalid Kustomization: json: cannot unmarshal ${jsonKind(doc, root)} into Go value of type types.Kustomization`,
      'a kustomization must be a mapping of fields (resources:, images:, ...)'
    )
  }
  p.root = root
  for (const pair of root.items) {
    const key = foldKey(keyText(pair.key))
    const listKey: ListKey | undefined =
      key === 'images' ? 'images' : key === 'imagetags' ? 'imageTags' : undefined
    if (!listKey) continue
    if (p[listKey]) {
      fail(
        p,
        (pair.key as Node).range![0],
        `the kustomization has more than one ${listKey} field (keys match case-insensitively)`,
        `merge them into one ${listKey} list`
      )
    }
    p[listKey] = readList(p, doc, listKey, pair)
  }
  return p
}

/**
 * The entries kustomize reads from a kustomization: `images:` then the
 * deprecated `imageTags:`. Throws UsageError with kustomize's cause and a fix.
 */
export function readImageEntries(text: string, label = 'kustomization'): ImageEntry[] {
  const p = parseKustomization(text, label)
  return [...(p.images?.items ?? []), ...(p.imageTags?.items ?? [])].map(i => ({...i.entry}))
}

interface Style {
  /** Columns from the parent key to the `-` of its block sequences. */
  seqOffset: number
  /** Columns from the `-` to the keys of a mapping item. */
  keyOffset: number
  order: ImageField[]
}

/** The file's own conventions, so new lines look like their neighbours. */
function detectStyle(p: ParsedKustomization): Style {
  const style: Style = {seqOffset: 0, keyOffset: 2, order: NATURAL_ORDER}
  const items = [...(p.images?.items ?? []), ...(p.imageTags?.items ?? [])]
  for (const item of items) {
    const d = item.pairs.findIndex(x => x.field === 'digest')
    const n = item.pairs.findIndex(x => x.field === 'name')
    if (d >= 0 && n >= 0) {
      style.order = d < n ? KUSTOMIZE_ORDER : NATURAL_ORDER
      break
    }
  }
  if (!p.doc) return style
  const text = p.text
  let found = false
  let foundKey = false
  visit(p.doc, {
    Pair(_, pair) {
      if (found) return visit.BREAK
      const seq = pair.value
      if (!isSeq(seq) || seq.flow || seq.items.length === 0 || !isScalar(pair.key)) return
      const first = seq.items[0] as Node | null
      if (!first?.range) return
      const keyCol = column(text, pair.key.range![0])
      const dash = findDash(text, first.range[0])
      if (!startsLine(text, pair.key.range![0])) return
      style.seqOffset = Math.max(0, column(text, dash) - keyCol)
      if (
        isMap(first) &&
        !first.flow &&
        lineStart(text, first.range[0]) === lineStart(text, dash)
      ) {
        style.keyOffset = Math.max(2, column(text, first.range[0]) - column(text, dash))
        foundKey = true
      }
      found = true
    }
  })
  if (found && !foundKey) {
    // Take the `- key:` spacing from any other list of mappings.
    visit(p.doc, {
      Seq(_, seq) {
        const first = seq.items[0] as Node | null
        if (seq.flow || !isMap(first) || first.flow || !first.range) return
        const dash = findDash(text, first.range[0])
        if (lineStart(text, first.range[0]) !== lineStart(text, dash)) return
        style.keyOffset = Math.max(2, column(text, first.range[0]) - column(text, dash))
        return visit.BREAK
      }
    })
  }
  return style
}

function renderBlockEntry(
  entry: ImageEntry,
  dashCol: number,
  keyCol: number,
  order: ImageField[],
  eol: string
): string {
  const fields = order.filter(f => entry[f])
  const pad = ' '.repeat(dashCol)
  if (fields.length === 0) return `${pad}- {}${eol}`
  const gap = ' '.repeat(Math.max(1, keyCol - dashCol - 1))
  return fields
    .map(
      (f, i) =>
        `${i === 0 ? `${pad}-${gap}` : ' '.repeat(keyCol)}${f}: ${renderString(entry[f]!)}${eol}`
    )
    .join('')
}

function renderFlowEntry(entry: ImageEntry, order: ImageField[]): string {
  const fields = order.filter(f => entry[f])
  return `{${fields.map(f => `${f}: ${renderString(entry[f]!, true)}`).join(', ')}}`
}

function fieldsOf(entry: ImageEntry): ImageField[] {
  return NATURAL_ORDER.filter(f => entry[f])
}

/** In-place edits of a flow mapping entry, or null when its keys change. */
function flowItemSplices(item: ItemInfo, next: ImageEntry, inFlow: boolean): Splice[] | null {
  if (!item.editable) return null
  const have = item.pairs.filter(pr => pr.value).map(pr => pr.field)
  const want = fieldsOf(next)
  if (have.length !== want.length || !want.every(f => have.includes(f))) return null
  if (item.pairs.some(pr => !pr.value)) return null
  const splices: Splice[] = []
  for (const pr of item.pairs) {
    const nv = next[pr.field]!
    if (nv === pr.value) continue
    const r = pr.valueNode!.range!
    splices.push({
      start: r[0],
      end: r[1],
      text: renderStringInStyle(nv, pr.valueNode!.type, inFlow)
    })
  }
  return splices
}

/** In-place edits of a block mapping entry (values, removed and added keys), or null. */
function blockItemSplices(
  p: ParsedKustomization,
  item: ItemInfo,
  next: ImageEntry,
  order: ImageField[]
): Splice[] | null {
  if (!item.editable || item.pairs.length === 0) return null
  const text = p.text
  const splices: Splice[] = []
  const kept: PairInfo[] = []
  const keyCol = column(text, item.pairs[0].keyStart)
  for (const [i, pr] of item.pairs.entries()) {
    const nv = next[pr.field] ?? ''
    const end = pr.valueNode?.range?.[1] ?? pr.keyEnd
    if (!nv) {
      if (i === 0) return null
      splices.push({start: lineStart(text, pr.keyStart), end: lineEnd(text, end), text: ''})
      continue
    }
    kept.push(pr)
    if (nv === pr.value) continue
    if (!pr.valueNode) return null
    const r = pr.valueNode.range!
    splices.push({start: r[0], end: r[1], text: renderStringInStyle(nv, pr.valueNode.type)})
  }
  if (kept.length === 0) return null
  const rank = (f: ImageField) => order.indexOf(f)
  for (const f of order) {
    if (!next[f] || item.pairs.some(pr => pr.field === f)) continue
    const before = kept.filter(pr => rank(pr.field) < rank(f))
    const anchor = before.length ? before[before.length - 1] : kept[kept.length - 1]
    const at = lineEnd(text, anchor.valueNode?.range?.[1] ?? anchor.keyEnd)
    const line = `${' '.repeat(keyCol)}${f}: ${renderString(next[f]!)}`
    const open = text[at - 1] !== '\n'
    splices.push({start: at, end: at, text: open ? `${p.eol}${line}` : `${line}${p.eol}`})
  }
  return splices
}

function sliceWith(text: string, start: number, end: number, splices: Splice[]): string {
  return applySplices(
    text.slice(start, end),
    splices.map(s => ({start: s.start - start, end: s.end - start, text: s.text}))
  )
}

/** Text of one entry of a block list: the reused chunk, an edited chunk, or new lines. */
function blockPiece(
  p: ParsedKustomization,
  list: ListInfo,
  origin: ItemInfo | undefined,
  next: ImageEntry,
  dashCol: number,
  keyCol: number,
  style: Style
): string {
  const text = p.text
  if (origin && origin.list === list.key) {
    if (sameEntry(origin.entry, next)) return text.slice(origin.chunkStart, origin.chunkEnd)
    const inPlace = origin.flowMap
      ? flowItemSplices(origin, next, true)
      : blockItemSplices(p, origin, next, style.order)
    if (inPlace) return sliceWith(text, origin.chunkStart, origin.chunkEnd, inPlace)
    if (origin.flowMap) {
      return sliceWith(text, origin.chunkStart, origin.chunkEnd, [
        {start: origin.start, end: origin.end, text: renderFlowEntry(next, style.order)}
      ])
    }
    // Keep the comments above the entry; rewrite the entry's own lines.
    const ds = lineStart(text, origin.dash)
    return (
      text.slice(origin.chunkStart, ds) +
      renderBlockEntry(
        next,
        column(text, origin.dash),
        Math.max(column(text, origin.dash) + 2, itemKeyCol(p, origin)),
        style.order,
        p.eol
      )
    )
  }
  return renderBlockEntry(next, dashCol, keyCol, style.order, p.eol)
}

function itemKeyCol(p: ParsedKustomization, item: ItemInfo): number {
  const first = item.pairs[0]
  if (
    first &&
    !item.flowMap &&
    lineStart(p.text, first.keyStart) === lineStart(p.text, item.dash)
  ) {
    return column(p.text, first.keyStart)
  }
  return column(p.text, item.dash) + 2
}

function withEol(s: string, eol: string): string {
  return s.endsWith('\n') ? s : s + eol
}

/** Splices that replace a whole block list's entries with `next`. */
function rewriteBlockList(
  p: ParsedKustomization,
  list: ListInfo,
  next: ImageEntry[],
  origins: Map<string, ItemInfo>,
  style: Style
): Splice[] {
  const first = list.items[0]
  const dashCol = column(p.text, first.dash)
  const keyCol = Math.max(dashCol + 2, itemKeyCol(p, first))
  const start = first.chunkStart
  const end = list.items[list.items.length - 1].chunkEnd
  let body = next
    .map(n =>
      withEol(blockPiece(p, list, origins.get(n.name ?? ''), n, dashCol, keyCol, style), p.eol)
    )
    .join('')
  if (!p.text.slice(start, end).endsWith('\n')) body = body.replace(/\r?\n$/, '')
  return [{start, end, text: body}]
}

function rewriteFlowList(
  p: ParsedKustomization,
  list: ListInfo,
  next: ImageEntry[],
  origins: Map<string, ItemInfo>,
  style: Style
): Splice[] {
  const seq = list.valueNode as YAMLSeq
  const pieces = next.map(n => {
    const origin = origins.get(n.name ?? '')
    if (origin && origin.list === list.key) {
      if (sameEntry(origin.entry, n)) return p.text.slice(origin.start, origin.end).trimEnd()
      const inPlace = origin.flowMap ? flowItemSplices(origin, n, true) : null
      if (inPlace) return sliceWith(p.text, origin.start, origin.end, inPlace).trimEnd()
    }
    return renderFlowEntry(n, style.order)
  })
  return [{start: seq.range![0], end: seq.range![1], text: `[${pieces.join(', ')}]`}]
}

/** A block list under a key that holds nothing (`images:`, `images: []`, `images: ~`). */
function fillEmptyList(
  p: ParsedKustomization,
  list: ListInfo,
  next: ImageEntry[],
  style: Style
): Splice[] {
  const text = p.text
  const splices: Splice[] = []
  const value = list.valueNode
  let after = lineEnd(text, list.keyEnd)
  if (value?.range && value.range[1] > value.range[0]) {
    const colon = text.lastIndexOf(':', value.range[0])
    splices.push({start: Math.max(colon + 1, list.keyEnd), end: value.range[1], text: ''})
    after = lineEnd(text, value.range[1])
  }
  if (!startsLine(text, list.keyStart)) {
    throw new UsageError(
      `${p.label}: cannot add entries to ${list.key} in this layout; write "${list.key}:" on its own line and run again`
    )
  }
  const dashCol = column(text, list.keyStart) + style.seqOffset
  const body = next
    .map(n => renderBlockEntry(n, dashCol, dashCol + style.keyOffset, style.order, p.eol))
    .join('')
  const open = text[after - 1] !== '\n'
  splices.push({start: after, end: after, text: open ? p.eol + body.replace(/\r?\n$/, '') : body})
  return splices
}

/** Appends a new `images:` block at the end of the first document. */
function appendImages(p: ParsedKustomization, next: ImageEntry[], style: Style): Splice[] {
  const text = p.text
  const root = p.root
  if (root?.flow) {
    const close = text.lastIndexOf('}', root.range![1])
    const sep = root.items.length ? ', ' : ''
    return [
      {
        start: close,
        end: close,
        text: `${sep}images: [${next.map(n => renderFlowEntry(n, style.order)).join(', ')}]`
      }
    ]
  }
  let at = text.length
  const docs = p.doc ? [p.doc] : []
  if (docs.length && p.doc!.range[2] < text.length) at = lineStart(text, p.doc!.range[2])
  // A document end marker (`...`) closes the first document: add the block before it.
  const tail = text.slice(0, at)
  const endMarker = /(^|\n)\.\.\.[ \t]*(#.*)?\r?\n?$/.exec(tail)
  if (endMarker) at = endMarker.index + endMarker[1].length
  const rootCol = root?.items.length ? column(text, (root.items[0].key as Node).range![0]) : 0
  const dashCol = rootCol + style.seqOffset
  const block =
    `${' '.repeat(rootCol)}images:${p.eol}` +
    next
      .map(n => renderBlockEntry(n, dashCol, dashCol + style.keyOffset, style.order, p.eol))
      .join('')
  const open = at > 0 && text[at - 1] !== '\n'
  return [{start: at, end: at, text: (open ? p.eol : '') + block}]
}

/** Removes a whole `imageTags:` field (its key line through its last entry). */
function removeList(p: ParsedKustomization, list: ListInfo): Splice {
  const text = p.text
  if (!startsLine(text, list.keyStart)) {
    throw new UsageError(
      `${p.label}: cannot move ${list.key} entries in this layout; move them into images: by hand and run again`
    )
  }
  const valueEnd = list.valueNode?.range?.[1] ?? list.keyEnd
  return {
    start: lineStart(text, list.keyStart),
    end: lineEnd(text, Math.max(list.keyEnd, lastContent(text, valueEnd))),
    text: ''
  }
}

function describeChanges(existing: ItemInfo[], next: ImageEntry[]): ImageChange[] {
  const changes: ImageChange[] = []
  const firstByName = new Map<string, ItemInfo>()
  const dropped: ItemInfo[] = []
  for (const item of existing) {
    const name = item.entry.name ?? ''
    if (firstByName.has(name)) dropped.push(item)
    else firstByName.set(name, item)
  }
  for (const n of next) {
    const origin = firstByName.get(n.name ?? '')
    if (origin && sameEntry(origin.entry, n)) continue
    changes.push({
      image: n.name ?? '',
      before: origin ? formatImageEntry(origin.entry) : null,
      after: formatImageEntry(n)
    })
  }
  for (const d of dropped)
    changes.push({image: d.entry.name ?? '', before: formatImageEntry(d.entry), after: null})
  return changes
}

/**
 * Puts exactly `next` into the file as its `images:` list (the caller
 * computed it, e.g. with kustomize's merge), touching only what differs.
 */
export function writeImageEntries(
  text: string,
  next: readonly ImageEntry[],
  label = 'kustomization'
): SetImagesResult {
  const p = parseKustomization(text, label)
  return writeParsed(p, [...next])
}

function writeParsed(p: ParsedKustomization, next: ImageEntry[]): SetImagesResult {
  const existing = [...(p.images?.items ?? []), ...(p.imageTags?.items ?? [])]
  const changes = describeChanges(existing, next)
  const current = p.images?.items ?? []
  const same =
    !p.imageTags &&
    current.length === next.length &&
    current.every((item, i) => sameEntry(item.entry, next[i]))
  if (same) return {kind: 'unchanged', changed: false, text: p.text, changes: []}
  const origins = new Map<string, ItemInfo>()
  for (const item of existing)
    if (!origins.has(item.entry.name ?? '')) origins.set(item.entry.name ?? '', item)
  const style = detectStyle(p)
  const splices: Splice[] = []
  let target = p.images
  if (!target && p.imageTags) {
    // kustomize moves imageTags into images; rename the field in place.
    target = p.imageTags
    splices.push({start: target.keyStart, end: target.keyEnd, text: 'images'})
  } else if (p.imageTags) splices.push(removeList(p, p.imageTags))
  if (!target) splices.push(...appendImages(p, next, style))
  else if (target.style === 'block')
    splices.push(...rewriteBlockList(p, target, next, origins, style))
  else if (target.style === 'flow')
    splices.push(...rewriteFlowList(p, target, next, origins, style))
  else splices.push(...fillEmptyList(p, target, next, style))
  const out = applySplices(p.text, splices)
  verifyWritten(out, next, p.label)
  return {
    kind: out === p.text ? 'unchanged' : 'changed',
    changed: out !== p.text,
    text: out,
    changes
  } as SetImagesResult
}

/** Reads the result back: a writer bug must never reach a commit. */
function verifyWritten(out: string, next: readonly ImageEntry[], label: string): void {
  let back: ImageEntry[]
  try {
    back = readImageEntries(out, label)
  } catch (e) {
    throw new Error(
      `internal error: the edited ${label} does not parse back (${(e as Error).message}); nothing was written`
    )
  }
  if (back.length !== next.length || back.some((b, i) => !sameEntry(b, next[i]))) {
    throw new Error(
      `internal error: the edited ${label} reads back a different images list; nothing was written`
    )
  }
}

/**
 * `kustomize edit set image <args...>` on the text of a kustomization.
 * Invalid arguments throw before the text is looked at.
 */
export function setImagesInText(
  text: string,
  args: readonly string[],
  label = 'kustomization'
): SetImagesResult {
  const parsed = parseImageArgs(args)
  if (parsed.kind === 'no-args')
    throw new UsageError(
      'no image specified; pass at least one --image <name>[=<newName>][:<tag>][@<digest>]'
    )
  if (parsed.kind === 'invalid') throw new UsageError(invalidImageMessage(parsed.arg))
  const p = parseKustomization(text, label)
  const existing = [...(p.images?.items ?? []), ...(p.imageTags?.items ?? [])].map(i => i.entry)
  return writeParsed(p, mergeImages(existing, parsed.args))
}

export function invalidImageMessage(arg: string): string {
  return `invalid image argument ${JSON.stringify(arg)}: ${INVALID_IMAGE_FORMAT} (${invalidImageHint(arg)})`
}

function invalidImageHint(arg: string): string {
  const slash = arg.indexOf('/')
  const head = slash > 0 ? arg.slice(0, slash) : ''
  if (/:[0-9]+$/.test(head)) {
    return `the ':' before the first '/' is a registry port, not a tag; add the tag at the end: ${arg}:<tag>`
  }
  if (head.includes(':')) {
    return `a tag is looked for only after the first '/', so a tag cannot contain '/'; use a tag without '/'`
  }
  const name = arg || '<name>'
  return `add a tag, a digest or a new name: ${name}:<tag>, ${name}@<digest> or ${name}=<newName>`
}
