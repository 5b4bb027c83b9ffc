/**
 * Offsets, lines and splices over YAML source text. Edits are made on the
 * original text, never by re-serialising, so these helpers are shared by every
 * byte-preserving writer.
 */
import {parseAllDocuments, type Document, type Node, type Scalar} from 'yaml'
import {UsageError} from '../errors.js'

export interface Splice {
  start: number
  end: number
  text: string
}

/** Applies non-overlapping splices (any order) to `text`. */
export function applySplices(text: string, splices: readonly Splice[]): string {
  const sorted = [...splices].sort((a, b) => a.start - b.start || a.end - b.end)
  let out = ''
  let pos = 0
  for (const s of sorted) {
    if (s.start < pos) throw new Error(`overlapping edits at offset ${s.start}`)
    out += text.slice(pos, s.start) + s.text
    pos = s.end
  }
  return out + text.slice(pos)
}

/** The file's own line ending: CRLF when its first line break is one. */
export function detectEol(text: string): '\n' | '\r\n' {
  const i = text.indexOf('\n')
  return i > 0 && text[i - 1] === '\r' ? '\r\n' : '\n'
}

export function bomLength(text: string): number {
  return text.charCodeAt(0) === 0xfeff ? 1 : 0
}

/** Offset of the first character of the line holding `offset`. */
export function lineStart(text: string, offset: number): number {
  const i = text.lastIndexOf('\n', offset - 1)
  return i < 0 ? bomLength(text) : i + 1
}

/** Offset just past the line break of the line holding `offset` (or the text end). */
export function lineEnd(text: string, offset: number): number {
  const i = text.indexOf('\n', offset)
  return i < 0 ? text.length : i + 1
}

export function column(text: string, offset: number): number {
  return offset - lineStart(text, offset)
}

export function lineNumber(text: string, offset: number): number {
  let n = 1
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++
  return n
}

/** The last non-whitespace offset before `end`, or -1. */
export function lastContent(text: string, end: number): number {
  let p = end - 1
  while (p >= 0 && /\s/.test(text[p])) p--
  return p
}

/** True when the text between the line start and `offset` is only indentation. */
export function startsLine(text: string, offset: number): boolean {
  return /^[ \t]*$/.test(text.slice(lineStart(text, offset), offset))
}

/**
 * A splice that puts `lines` at `at`, a line end (see lineEnd). When the text
 * there lacks its final line break, the lines start on a new line and the
 * text stays without one, as its author left it.
 */
export function insertLines(
  text: string,
  at: number,
  lines: readonly string[],
  eol: string
): Splice {
  const body = lines.join(eol)
  const open = at > 0 && text[at - 1] !== '\n'
  return {start: at, end: at, text: open ? eol + body : body + eol}
}

/**
 * The span of a scalar's own text. A block scalar (`|`, `>`) ends at its last
 * content character, so the line breaks and blank lines after it stay.
 */
export function scalarSpan(text: string, node: Scalar): {start: number; end: number} {
  const [start, end] = node.range!
  const block = node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED'
  return {start, end: block ? lastContent(text, end) + 1 : end}
}

/**
 * A scalar as the user wrote it: a plain scalar keeps its source (`1.10`
 * stays `1.10`, not the number 1.1), a quoted or block one its string value.
 */
export function scalarSource(node: Scalar): string {
  return node.type === 'PLAIN'
    ? (node.source ?? String(node.value ?? ''))
    : String(node.value ?? '')
}

/** Offset of the `:` that follows a block mapping key. */
export function colonAfter(text: string, key: Node): number {
  const at = text.indexOf(':', key.range![1])
  if (at < 0) throw new Error('internal error: mapping key without a colon')
  return at
}

/**
 * Parses every document, turning the first syntax error into a UsageError
 * that says where it is and what to do.
 */
export function parseYamlDocuments(text: string, label: string): Document.Parsed[] {
  const docs = parseAllDocuments(text, {uniqueKeys: false, prettyErrors: false})
  if (!Array.isArray(docs)) return []
  for (const doc of docs) {
    const err = doc.errors[0]
    if (err) {
      const line = lineNumber(text, err.pos[0])
      const col = column(text, err.pos[0]) + 1
      const what = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
      throw new UsageError(
        `${label}: malformed YAML at line ${line}, column ${col}: ${what}; fix the YAML syntax and run again`
      )
    }
  }
  return docs
}
