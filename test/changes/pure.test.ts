import {describe, expect, it} from 'vitest'
import {createFilter, globProblem, splitGlobs} from '../../src/changes/filter.js'
import {parseLog, parseNameStatus} from '../../src/changes/history.js'
import {formatTag, parseTagFormat, sanitizeRefName} from '../../src/changes/tag-format.js'
import {UsageError, OperationError} from '../../src/core/errors.js'

describe('splitGlobs', () => {
  it('splits on commas and newlines but keeps commas inside braces', () => {
    expect(splitGlobs(['src/**, Dockerfile', 'lib/{a,b}/**\n  package.json\n\n# comment'])).toEqual(
      ['src/**', 'Dockerfile', 'lib/{a,b}/**', 'package.json']
    )
  })
})

describe('createFilter', () => {
  const filter = createFilter(['src/**', 'Dockerfile', 'conf/'], ['**/*.md'])

  it('matches build paths, dot files included, minus ignores', () => {
    expect(filter.matchesPath('src/app.ts')).toBe(true)
    expect(filter.matchesPath('src/.env.example')).toBe(true)
    expect(filter.matchesPath('src/deep/.hidden/x.ts')).toBe(true)
    expect(filter.matchesPath('Dockerfile')).toBe(true)
    expect(filter.matchesPath('conf/a/b.yaml')).toBe(true)
    expect(filter.matchesPath('src/README.md')).toBe(false)
    expect(filter.matchesPath('deploy/k8s.yaml')).toBe(false)
    expect(filter.matchesPath('srcx/app.ts')).toBe(false)
  })

  it('counts a rename for both its old and its new path', () => {
    expect(filter.matchesChange({status: 'R', from: 'src/a.ts', path: 'attic/a.ts'})).toBe(true)
    expect(filter.matchesChange({status: 'R', from: 'attic/a.ts', path: 'src/a.ts'})).toBe(true)
    expect(filter.matchesChange({status: 'R', from: 'attic/a.ts', path: 'attic/b.ts'})).toBe(false)
    expect(filter.matchesChange({status: 'D', path: 'src/gone.ts'})).toBe(true)
  })

  it("treats '!glob' in the build list as an ignore", () => {
    const f = createFilter(['src/**', '!src/**/*.test.ts'])
    expect(f.matchesPath('src/a.ts')).toBe(true)
    expect(f.matchesPath('src/a.test.ts')).toBe(false)
    expect(f.ignorePaths).toEqual(['src/**/*.test.ts'])
  })

  it.each([
    ['/src/**', 'leading "/"'],
    ['src\\app.ts', 'path separator'],
    ['../src/**', '".."'],
    ['src/{a,b', 'unbalanced "{}"'],
    ['src/[ab', 'unbalanced "[]"'],
    ['src/a)', 'unbalanced "()"'],
    ['src/[z-a]', 'can never match']
  ])('rejects %s naming the problem', (glob, fragment) => {
    expect(globProblem(glob)).toContain(fragment)
    expect(() => createFilter([glob])).toThrow(UsageError)
    expect(() => createFilter([glob])).toThrow(`invalid glob '${glob}' in --build-paths`)
  })

  it('rejects a bad ignore glob and an empty build list', () => {
    expect(() => createFilter(['src/**'], ['/x'])).toThrow("invalid glob '/x' in --ignore-paths")
    expect(() => createFilter([])).toThrow(/no build paths given; pass --build-paths/)
  })
})

describe('parseNameStatus', () => {
  it('parses NUL-separated entries, renames and copies with both paths', () => {
    const raw =
      'M\0src/app.ts\0A\0a b/c\nd.txt\0R087\0old/x.ts\0new/x.ts\0D\0gone\0C100\0a\0b\0T\0link\0'
    expect(parseNameStatus(raw)).toEqual([
      {status: 'M', path: 'src/app.ts'},
      {status: 'A', path: 'a b/c\nd.txt'},
      {status: 'R', from: 'old/x.ts', path: 'new/x.ts'},
      {status: 'D', path: 'gone'},
      {status: 'C', from: 'a', path: 'b'},
      {status: 'T', path: 'link'}
    ])
    expect(parseNameStatus('')).toEqual([])
  })

  it('refuses truncated output instead of guessing', () => {
    expect(() => parseNameStatus('R100\0only-one')).toThrow(/truncated/)
  })
})

describe('parseLog', () => {
  const a = 'a'.repeat(40)
  const b = 'b'.repeat(40)
  const c = 'c'.repeat(40)
  it('parses headers, files, empty commits, merges and roots', () => {
    const raw = `\x01${a} ${b} ${c}\0\nsrc/x.ts\0docs/é y.md\0\x01${b}\0\x01${c} \0\nREADME\0`
    expect(parseLog(raw)).toEqual([
      {sha: a, parents: [b, c], files: ['src/x.ts', 'docs/é y.md']},
      {sha: b, parents: [], files: []},
      {sha: c, parents: [], files: ['README']}
    ])
  })
})

describe('tag format', () => {
  const sha = '0123456789abcdef0123456789abcdef01234567'
  it('fills placeholders and sanitizes ref names', () => {
    expect(formatTag(parseTagFormat('{sha}'), {sha})).toBe(sha)
    expect(formatTag(parseTagFormat('{branch}-{short}'), {sha, branch: 'feature/Login#2'})).toBe(
      'feature-Login-2-0123456'
    )
    expect(formatTag(parseTagFormat('{tag}'), {sha, tag: 'v1.2.3'})).toBe('v1.2.3')
    expect(sanitizeRefName('a//b c')).toBe('a-b-c')
  })

  it('rejects unknown placeholders, bad characters and constant tags (exit 2)', () => {
    expect(() => parseTagFormat('{commit}')).toThrow(/unknown placeholder \{commit\}.*use \{sha\}/)
    expect(() => parseTagFormat('v:{sha}')).toThrow(UsageError)
    expect(() => parseTagFormat('latest')).toThrow(/no placeholder/)
    expect(() => parseTagFormat('{sha')).toThrow(/unbalanced brace/)
  })

  it('fails with the fix when {branch} or {tag} has no value', () => {
    expect(() => formatTag(parseTagFormat('{tag}'), {sha})).toThrow(OperationError)
    expect(() => formatTag(parseTagFormat('{tag}'), {sha})).toThrow(/run on a tag pipeline/)
    expect(() => formatTag(parseTagFormat('{branch}-{sha}'), {sha})).toThrow(/not on a branch/)
  })
})

describe('command adapters', () => {
  const result = {
    kind: 'reuse' as const,
    head: 'b'.repeat(40),
    base: 'a'.repeat(40),
    sourceCommit: 'c'.repeat(40),
    imageTag: 'c'.repeat(40),
    changedFiles: 3,
    matchedFiles: [],
    reason: 'none of the 3 files changed since aaaa match the build paths',
    event: 'github push',
    fetches: 2,
    filters: [],
    listFiles: 'none' as const
  }

  it('maps a result to action outputs, JSON and a job summary', async () => {
    const {changesCommand} = await import('../../src/commands/changes.js')
    expect(changesCommand.outputs(result)).toEqual({
      build: 'false',
      'image-tag': result.imageTag,
      'source-commit': result.sourceCommit,
      base: result.base,
      head: result.head,
      'changed-files': '3',
      reason: result.reason
    })
    // `filters` (and one output per named filter) only when filters are given.
    expect(Object.keys(changesCommand.outputs(result)).sort()).toEqual(
      changesCommand.outputSpecs
        .map(o => o.name)
        .filter(n => n !== 'filters')
        .sort()
    )
    expect(changesCommand.json(result)).toMatchObject({
      build: false,
      imageTag: result.imageTag,
      changedFiles: 3
    })
    const built = {...result, kind: 'build' as const, failOpen: false, matchedFiles: ['src/a.ts']}
    expect(changesCommand.summary(built)).toContain('| build | **yes** |')
    expect(changesCommand.summary(built)).toContain('- `src/a.ts`')
    expect(
      changesCommand.outputs({...built, base: undefined, changedFiles: undefined})
    ).toMatchObject({
      build: 'true',
      base: '',
      'changed-files': ''
    })
  })
})
