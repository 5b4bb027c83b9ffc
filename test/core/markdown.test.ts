import {describe, expect, it} from 'vitest'
import {fitLines, tableCell, tableHead, tableRow} from '../../src/core/markdown.js'

describe('markdown tables', () => {
  it('escapes what would end a cell, a code span or a row', () => {
    expect(tableCell('a|b`c\r\nd\ne')).toBe("a\\|b'c d e")
  })
  it('renders a head with its separator and rows of escaped cells', () => {
    expect([...tableHead(['File', 'Change']), tableRow(['`k.yaml`', tableCell('1 | 2')])]).toEqual([
      '| File | Change |',
      '| --- | --- |',
      '| `k.yaml` | 1 \\| 2 |'
    ])
  })
})

describe('fitLines', () => {
  it('keeps the leading lines that fit, counting a newline after each, and says what is left', () => {
    expect(fitLines(['abc', 'de', 'f'], 7)).toEqual({kept: ['abc', 'de'], left: 0})
    expect(fitLines(['abc', 'de', 'f'], 6)).toEqual({kept: ['abc'], left: 2})
  })
  it('stops at the first line that does not fit, so the kept part is a prefix', () => {
    expect(fitLines(['a', 'too long', 'b'], 5)).toEqual({kept: ['a'], left: 3})
    expect(fitLines(['x'], 1)).toEqual({kept: [], left: 1})
  })
})
