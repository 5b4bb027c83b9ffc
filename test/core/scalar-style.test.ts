import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'
import {
  goYamlV2Kind,
  needsQuotes,
  renderString,
  renderStringInStyle,
  yaml11Kind,
  yaml12Kind
} from '../../src/core/yaml/scalar-style.js'

describe('goYamlV2Kind (sigs.k8s.io/yaml resolution)', () => {
  it.each([
    ['1.10', 'float'],
    ['1234', 'int'],
    ['1e3', 'float'],
    ['0x1F', 'int'],
    ['0o17', 'int'],
    ['017', 'int'],
    ['08', 'float'],
    ['1_000', 'int'],
    ['-1', 'int'],
    ['.5', 'float'],
    ['.inf', 'float'],
    ['y', 'bool'],
    ['Yes', 'bool'],
    ['off', 'bool'],
    ['TRUE', 'bool'],
    ['~', 'null'],
    ['', 'null'],
    ['Null', 'null'],
    ['1.2.3', 'string'],
    ['1:20', 'string'],
    ['2024-01-15', 'string'],
    ['v1', 'string'],
    ['sha256:abc', 'string'],
    ['.hidden', 'string'],
    ['tRue', 'string'],
    ['-', 'string']
  ])('%j is %s', (value, kind) => {
    expect(goYamlV2Kind(value)).toBe(kind)
  })
})

describe('YAML 1.1 and 1.2 kinds', () => {
  it('knows base-60, timestamps and 1.1 booleans', () => {
    expect(yaml11Kind('1:20')).toBe('int')
    expect(yaml11Kind('1:20.5')).toBe('float')
    expect(yaml11Kind('2024-01-15')).toBe('timestamp')
    expect(yaml11Kind('on')).toBe('bool')
    expect(yaml11Kind('1.2.3')).toBe('string')
  })
  it('agrees with the yaml package (1.2 core) on what is not a string', () => {
    for (const v of ['1e3', '0o17', '0x1f', '.inf', '-.5', 'true', 'null', '~', '1.10', '12']) {
      expect(yaml12Kind(v)).not.toBe('string')
      expect(typeof parse(`v: ${v}`).v).not.toBe('string')
    }
    for (const v of ['yes', 'on', '1:20', '1.2.3', 'v1']) {
      expect(yaml12Kind(v)).toBe('string')
      expect(typeof parse(`v: ${v}`).v).toBe('string')
    }
  })
})

describe('needsQuotes / renderString', () => {
  it.each([
    '1.10',
    '1234',
    'true',
    '1e3',
    'yes',
    'y',
    'on',
    '1:20',
    '0o17',
    'null',
    '~',
    '',
    '2024-01-15',
    '.nan'
  ])('quotes %j (reads back as a non-string somewhere)', v => {
    expect(needsQuotes(v)).toBe(true)
    expect(renderString(v)).toBe(JSON.stringify(v))
  })
  it.each([
    ' lead',
    'trail ',
    'a: b',
    'a #b',
    'end:',
    '- x',
    '-',
    '? x',
    ': x',
    '[x',
    '{x',
    '*x',
    '&x',
    '!x',
    '|x',
    '>x',
    "'x",
    '"x',
    '%x',
    '@x',
    '`x',
    '#x',
    ',x',
    'a\nb',
    'tab\there',
    '---',
    '...'
  ])('quotes %j (would not parse as the same plain scalar)', v => {
    expect(needsQuotes(v)).toBe(true)
    expect(parse(`v: ${renderString(v)}`).v).toBe(v)
  })
  it.each([
    '1.2.3',
    'v1.2.3',
    'sha256:abc',
    'registry.example.com/shop/web',
    'feature-x',
    'a:b',
    'a#b',
    '-debug',
    'latest',
    'ünïcode'
  ])('leaves %j bare', v => {
    expect(needsQuotes(v)).toBe(false)
    expect(renderString(v)).toBe(v)
    expect(parse(`v: ${v}`).v).toBe(v)
  })
  it('quotes flow indicators only inside flow collections', () => {
    expect(needsQuotes('a,b')).toBe(false)
    expect(needsQuotes('a,b', true)).toBe(true)
    expect(parse(`[${renderString('a]b', true)}]`)).toEqual(['a]b'])
  })
  it('keeps the author quoting style when it can hold the value', () => {
    expect(renderStringInStyle('1.10', 'QUOTE_SINGLE')).toBe("'1.10'")
    expect(renderStringInStyle("it's", 'QUOTE_SINGLE')).toBe("'it''s'")
    expect(renderStringInStyle('v2', 'QUOTE_DOUBLE')).toBe('"v2"')
    expect(renderStringInStyle('v2', 'PLAIN')).toBe('v2')
    expect(renderStringInStyle('1.10', 'PLAIN')).toBe('"1.10"')
    expect(renderStringInStyle('a\nb', 'QUOTE_SINGLE')).toBe('"a\\nb"')
  })
  it('double-quoted output round-trips through YAML for awkward strings', () => {
    for (const v of ['a"b', 'back\\slash', 'tab\t', 'nl\n', '\u2028', 'ünï', 'x\u0007']) {
      expect(parse(`v: ${renderString(v)}`).v).toBe(v)
    }
  })
})
