import {parseDocument, type Scalar, type YAMLMap} from 'yaml'
import {describe, expect, it} from 'vitest'
import {
  applySplices,
  colonAfter,
  insertLines,
  lineEnd,
  scalarSpan
} from '../../src/core/yaml/source-text.js'

describe('insertLines', () => {
  it('adds lines after a line that ends with a break', () => {
    const text = 'a: 1\nb: 2\n'
    const at = lineEnd(text, 0)
    expect(applySplices(text, [insertLines(text, at, ['x: 3', 'y: 4'], '\n')])).toBe(
      'a: 1\nx: 3\ny: 4\nb: 2\n'
    )
  })
  it('keeps a file without a final line break without one, in its own line ending', () => {
    const text = 'a: 1\r\nb: 2'
    expect(applySplices(text, [insertLines(text, text.length, ['c: 3'], '\r\n')])).toBe(
      'a: 1\r\nb: 2\r\nc: 3'
    )
  })
})

describe('scalarSpan and colonAfter', () => {
  it('spans a block scalar up to its last character, leaving the breaks after it', () => {
    const text = 'note: |\n  one\n  two\n\nnext: x\n'
    const map = parseDocument(text).contents as YAMLMap
    const note = map.items[0].value as Scalar
    const span = scalarSpan(text, note)
    expect(text.slice(span.start, span.end)).toBe('|\n  one\n  two')
    const plain = map.items[1].value as Scalar
    expect(text.slice(scalarSpan(text, plain).start, scalarSpan(text, plain).end)).toBe('x')
  })
  it('finds the colon after a key, past quotes that hold one', () => {
    const text = '"a:b" : 1\n'
    const map = parseDocument(text).contents as YAMLMap<Scalar, unknown>
    expect(colonAfter(text, map.items[0].key)).toBe(6)
  })
})
