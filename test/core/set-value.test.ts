import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {parseAllDocuments} from 'yaml'
import {UsageError} from '../../src/core/errors.js'
import {
  getValueInText,
  parseKeyPath,
  parseSetArg,
  setValueInText
} from '../../src/core/yaml/set-value.js'

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/edit/${name}`, import.meta.url), 'utf8')

function setIn(text: string, arg: string, createKeys = false): string {
  const s = parseSetArg(`f.yaml:${arg}`)
  return setValueInText(text, s, {createKeys, label: 'f.yaml'}).text
}

function usageError(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError)
    return (e as Error).message
  }
  throw new Error('expected a UsageError')
}

/** The text with exactly one line replaced; proves nothing else moved. */
function withLine(text: string, from: string, to: string): string {
  expect(text.split(from)).toHaveLength(2)
  return text.replace(from, to)
}

describe('parseSetArg / parseKeyPath', () => {
  it('splits file, key path and value at the first "=" outside brackets', () => {
    expect(parseSetArg('values.yaml:image.tag=1.2.3')).toMatchObject({
      file: 'values.yaml',
      keyPath: 'image.tag',
      value: '1.2.3',
      steps: [
        {kind: 'key', key: 'image'},
        {kind: 'key', key: 'tag'}
      ]
    })
    expect(parseSetArg('d.yaml:spec.containers[name=web].image=nginx:1.2=x')).toMatchObject({
      value: 'nginx:1.2=x',
      steps: [
        {kind: 'key', key: 'spec'},
        {kind: 'key', key: 'containers'},
        {kind: 'select', field: ['name'], value: 'web'},
        {kind: 'key', key: 'image'}
      ]
    })
    expect(parseSetArg('f:a=').value).toBe('')
  })
  it('supports indexes, escaped dots, quoted keys and a document selector', () => {
    expect(parseKeyPath('spec.containers[0].image').steps[2]).toEqual({kind: 'index', index: 0})
    expect(parseKeyPath('metadata.annotations.app\\.kubernetes\\.io/name').steps[2]).toEqual({
      kind: 'key',
      key: 'app.kubernetes.io/name'
    })
    expect(parseKeyPath('a."b.c".d').steps).toEqual([
      {kind: 'key', key: 'a'},
      {kind: 'key', key: 'b.c'},
      {kind: 'key', key: 'd'}
    ])
    expect(parseKeyPath('[kind=Deployment].spec.x')).toMatchObject({
      docSelector: {kind: 'select', field: ['kind'], value: 'Deployment'}
    })
    expect(parseKeyPath('[1].a').docSelector).toEqual({kind: 'index', index: 1})
    expect(parseKeyPath('a[metadata.name="x.y"].b').steps[1]).toEqual({
      kind: 'select',
      field: ['metadata', 'name'],
      value: 'x.y'
    })
  })
  it.each([
    ['values.yaml', 'missing ":" between the file and the key path'],
    ['f.yaml:a.b', 'missing "=<value>"'],
    [':a=1', 'missing the file part'],
    ['f.yaml:=1', 'missing the key path'],
    ['f.yaml:a..b=1', 'empty key'],
    ['f.yaml:a.=1', 'ends with a dot'],
    ['f.yaml:a[0=1', 'unclosed'],
    ['f.yaml:a[x]=1', 'neither an index'],
    ['f.yaml:a[0]b=1', "expected '.' or '['"]
  ])('rejects %j', (arg, why) => {
    const msg = usageError(() => parseSetArg(arg))
    expect(msg).toContain(why)
    expect(msg).toContain('use <file>:<key.path>=<value>')
  })
})

describe('setValueInText on Helm values', () => {
  const values = fixture('values.yaml')
  it('changes one scalar and nothing else', () => {
    expect(setIn(values, 'image.tag=1.5.0')).toBe(withLine(values, 'tag: "1.4.2"', 'tag: "1.5.0"'))
  })
  it('keeps a tag a string: 1.10 stays "1.10"', () => {
    expect(setIn(values, 'image.tag=1.10')).toBe(withLine(values, 'tag: "1.4.2"', 'tag: "1.10"'))
    const plain = 'image:\n  tag: v1\n'
    expect(setIn(plain, 'image.tag=1.10')).toBe('image:\n  tag: "1.10"\n')
    expect(setIn(plain, 'image.tag=1234')).toBe('image:\n  tag: "1234"\n')
    expect(setIn(plain, 'image.tag=v2')).toBe('image:\n  tag: v2\n')
  })
  it('keeps numbers and booleans typed when the new value is of the same kind', () => {
    expect(setIn(values, 'replicaCount=4')).toBe(
      withLine(values, 'replicaCount: 3', 'replicaCount: 4')
    )
    expect(setIn(values, 'worker.enabled=false')).toBe(
      withLine(values, 'enabled: true', 'enabled: false')
    )
    expect(setIn(values, 'replicaCount=four')).toBe(
      withLine(values, 'replicaCount: 3', 'replicaCount: four')
    )
    expect(setIn(values, 'worker.enabled=1')).toBe(
      withLine(values, 'enabled: true', 'enabled: "1"')
    )
    // A float that would lose digits becomes a string.
    expect(setIn('x: 1.5\n', 'x=1.10')).toBe('x: "1.10"\n')
    expect(setIn('x: 1.5\n', 'x=2.5')).toBe('x: 2.5\n')
  })
  it('edits inside flow mappings with flow quoting', () => {
    expect(setIn(values, 'worker.image.tag=1.5.0')).toBe(
      withLine(values, "tag: '1.4.2'}", "tag: '1.5.0'}")
    )
    expect(setIn(values, 'worker.image.repository=a,b')).toBe(
      withLine(values, 'repository: registry.example.com/shop/worker,', 'repository: "a,b",')
    )
  })
  it('selects sequence items by index and by field', () => {
    expect(setIn(values, 'sidecars[name=envoy].image=envoyproxy/envoy:v1.32.0')).toBe(
      withLine(values, 'envoyproxy/envoy:v1.31.0', 'envoyproxy/envoy:v1.32.0')
    )
    expect(setIn(values, 'sidecars[1].image=prom/statsd-exporter:v0.28.0')).toBe(
      withLine(values, 'v0.27.1', 'v0.28.0')
    )
  })
  it('is idempotent', () => {
    const once = setIn(values, 'image.tag=2.0')
    const r = setValueInText(once, parseSetArg('f:image.tag=2.0'), {label: 'f'})
    expect(r.kind).toBe('unchanged')
    expect(r.text).toBe(once)
    expect(setValueInText(values, parseSetArg('f:replicaCount=3')).kind).toBe('unchanged')
  })
  it('rewrites a float-looking tag that is already in the file as a string', () => {
    // `tag: 1.10` reads as 1.1; asking for "1.10" must fix that, then settle.
    const out = setIn('tag: 1.10\n', 'tag=1.10')
    expect(out).toBe('tag: "1.10"\n')
    expect(setValueInText(out, parseSetArg('f:tag=1.10')).kind).toBe('unchanged')
  })
  it('fills null values', () => {
    expect(setIn('a:\nb: ~ # later\n', 'a=x')).toBe('a: x\nb: ~ # later\n')
    expect(setIn('a:\nb: ~ # later\n', 'b=1.0')).toBe('a:\nb: "1.0" # later\n')
  })
  it('replaces block scalars with a one-line scalar', () => {
    expect(setIn('a: |\n  old\nb: 1\n', 'a=new')).toBe('a: new\nb: 1\n')
  })
  it('errors on a missing key, naming what exists and the fix', () => {
    const msg = usageError(() => setIn(values, 'image.digest=sha256:x'))
    expect(msg).toBe(
      'f.yaml: key image.digest not found (the file has image but not digest under it); fix the key path, or pass --create-keys to add it'
    )
    expect(usageError(() => setIn(values, 'sidecars[name=nope].image=x'))).toContain('not found')
    expect(usageError(() => setIn(values, 'sidecars[5].image=x'))).toContain('not found')
    // No --create-keys hint where it would not work: it never creates a sequence item.
    const seq = usageError(() => setIn(values, 'sidecars[5].image=x'))
    expect(seq).not.toContain('pass --create-keys')
    expect(seq).toContain(
      '--create-keys cannot help: it adds mapping keys, not the sequence item [5]'
    )
  })
  it('refuses to replace a mapping or sequence', () => {
    expect(usageError(() => setIn(values, 'image=x'))).toContain(
      'image is a mapping, not a single value'
    )
    expect(usageError(() => setIn(values, 'sidecars=x'))).toContain('is a sequence')
  })
  it('refuses ambiguous field selectors', () => {
    expect(usageError(() => setIn('l:\n- n: a\n  v: 1\n- n: a\n  v: 2\n', 'l[n=a].v=3'))).toContain(
      'matches 2 items'
    )
  })
  it('refuses paths through aliases', () => {
    expect(usageError(() => setIn('base: &b\n  tag: v1\nprod: *b\n', 'prod.tag=v2'))).toContain(
      'alias'
    )
  })
  it('reports malformed YAML', () => {
    expect(usageError(() => setIn('a: [1\nb: 2\n', 'b=3'))).toMatch(
      /^f\.yaml: malformed YAML at line 2/
    )
  })
})

describe('--create-keys', () => {
  const values = fixture('values.yaml')
  it('adds a key after the last key of the existing mapping', () => {
    expect(setIn(values, 'image.digest=sha256:x', true)).toBe(
      withLine(
        values,
        '  pullPolicy: IfNotPresent\n',
        '  pullPolicy: IfNotPresent\n  digest: sha256:x\n'
      )
    )
  })
  it('adds nested keys with the file indentation', () => {
    const text = 'a:\n    b: 1\n'
    expect(setIn(text, 'c.d.e=1.0', true)).toBe('a:\n    b: 1\nc:\n    d:\n        e: "1.0"\n')
    expect(setIn('x:\n', 'x.z=1', true)).toBe('x:\n  z: "1"\n')
    // `y` is a boolean key under YAML 1.1 (Helm, kustomize), so it is quoted.
    expect(setIn('x:\n', 'x.y=1', true)).toBe('x:\n  "y": "1"\n')
    expect(setIn('x: {}\n', 'x.k=1', true)).toBe('x: {k: "1"}\n')
    expect(setIn(values, 'resources.limits.cpu=1', true)).toBe(
      withLine(values, 'resources: {}', 'resources: {limits: {cpu: "1"}}')
    )
    expect(setIn('', 'a.b=v', true)).toBe('a:\n  b: v\n')
  })
  it('adds keys inside a sequence item found by a selector', () => {
    expect(setIn(values, 'sidecars[name=envoy].tag=v1', true)).toBe(
      withLine(
        values,
        '    image: envoyproxy/envoy:v1.31.0\n',
        '    image: envoyproxy/envoy:v1.31.0\n    tag: v1\n'
      )
    )
  })
  it('cannot create sequence items or keys under scalars', () => {
    expect(usageError(() => setIn(values, 'sidecars[name=x].image=y', true))).toContain(
      'mapping keys only'
    )
    expect(usageError(() => setIn(values, 'replicaCount.x=1', true))).toContain('cannot create')
  })
})

describe('multi-document files', () => {
  it('sets the key in the one document that has it', () => {
    const text = fixture('multi-doc.yaml')
    const out = setIn(
      text,
      'spec.template.spec.containers[name=web].image=registry.example.com/shop/web:1.5.0'
    )
    expect(out).toBe(withLine(text, 'web:1.4.2   # CI', 'web:1.5.0   # CI'))
    expect(parseAllDocuments(out)).toHaveLength(2)
  })
  it('errors only when no document has the key', () => {
    expect(usageError(() => setIn(fixture('multi-doc.yaml'), 'spec.replicas=2'))).toContain(
      'not found'
    )
  })
  it('asks for a document selector when several documents have the key', () => {
    const text = 'kind: A\nspec:\n  image: x\n---\nkind: B\nspec:\n  image: y\n'
    expect(usageError(() => setIn(text, 'spec.image=z'))).toContain('[kind=<Kind>].spec.image')
    expect(setIn(text, '[kind=B].spec.image=z')).toBe(
      'kind: A\nspec:\n  image: x\n---\nkind: B\nspec:\n  image: z\n'
    )
    expect(setIn(text, '[0].spec.image=z')).toBe(
      'kind: A\nspec:\n  image: z\n---\nkind: B\nspec:\n  image: y\n'
    )
    expect(usageError(() => setIn(text, '[kind=C].spec.image=z'))).toContain('no document matches')
  })
  it('keeps CRLF and creates keys in the document that has the deepest match', () => {
    const text = fixture('crlf-values.yaml')
    expect(setIn(text, 'image.tag=v2')).toBe(text.replace('tag: v1   # CI', 'tag: v2   # CI'))
    const created = setIn(text, '[1].image.tag=v3', true)
    expect(created).toBe(text + '   tag: v3\r\n')
    expect(created).not.toMatch(/(^|[^\r])\n/)
  })
  it('edits an Argo CD Application', () => {
    const app = fixture('application.yaml')
    expect(setIn(app, 'spec.source.targetRevision=v1.5.0')).toBe(
      withLine(app, 'targetRevision: main    # promoted', 'targetRevision: v1.5.0    # promoted')
    )
    expect(setIn(app, 'spec.source.helm.parameters[name=image.tag].value=1.5.0')).toBe(
      withLine(app, 'value: "1.4.2"', 'value: "1.5.0"')
    )
    expect(setIn(app, 'metadata.annotations.argocd\\.argoproj\\.io/sync-wave=3')).toBe(
      withLine(app, 'sync-wave: "2"', 'sync-wave: "3"')
    )
  })
})

describe('getValueInText', () => {
  it('reads back what was set', () => {
    const out = setIn(fixture('values.yaml'), 'image.tag=1.10')
    expect(getValueInText(out, parseSetArg('f:image.tag=x'))).toBe('1.10')
    expect(getValueInText(out, parseSetArg('f:image.nope=x'))).toBeUndefined()
  })
})
