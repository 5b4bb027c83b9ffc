import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {
  evaluateFilters,
  formatFileList,
  parseNamedFilters,
  type NamedFilter
} from '../../src/changes/filter.js'
import {cli} from '../helpers/cli.js'
import {fixture, type Fixture} from './repo.js'

const RESERVED = new Set(['build', 'reason'])
const parse = (values: string[], data?: unknown) =>
  parseNamedFilters(values, data === undefined ? undefined : {path: 'filters.yml', data}, RESERVED)

describe('named filters (pure)', () => {
  it('reads --filter name=globs, one per value or line, with !glob excluding', () => {
    const filters = parse(['backend=src/**,Dockerfile', 'docs=docs/**,!docs/internal/**\nui=web/'])
    expect(filters.map(f => f.name)).toEqual(['backend', 'docs', 'ui'])
    const [backend, docs, ui] = filters
    expect(backend.filter.matchesPath('Dockerfile')).toBe(true)
    expect(docs.filter.matchesPath('docs/a.md')).toBe(true)
    expect(docs.filter.matchesPath('docs/internal/a.md')).toBe(false)
    expect(ui.filter.matchesPath('web/app/x.ts')).toBe(true)
  })

  it('reads a paths-filter style YAML file (a glob or a list per name)', () => {
    const filters = parse([], {backend: ['src/**', '!src/**/*.md'], infra: 'deploy/**'})
    expect(filters.map(f => f.name)).toEqual(['backend', 'infra'])
    expect(filters[0].filter.matchesPath('src/a.md')).toBe(false)
  })

  it('rejects, with the fix, what would silently never match or clash', () => {
    const cases: [() => unknown, RegExp][] = [
      [
        () => parse(['backend']),
        /--filter 'backend' is not name=globs; write it like --filter backend=/
      ],
      [() => parse(['1x=src/**']), /filter name '1x' in --filter is not a plain name/],
      [() => parse(['build=src/**']), /filter name 'build' .* is an output of the command already/],
      [() => parse(['a=src/**'], {a: 'x/**'}), /filter 'a' is defined twice/],
      [() => parse(['a=!src/**']), /filter 'a' in --filter has no globs/],
      [
        () => parse(['a=/src/**']),
        /invalid glob '\/src\/\*\*' in filter 'a' \(--filter\): paths are relative/
      ],
      [() => parse([], ['src/**']), /--filters-file filters.yml must be a YAML mapping/],
      [() => parse([], {a: [1]}), /filter 'a' must be a glob or a list of globs/]
    ]
    for (const [run, message] of cases) expect(run).toThrow(message)
  })

  it('matches renames by either path and fails open without a change list', () => {
    const [backend] = parse(['backend=src/**']) as NamedFilter[]
    const moved = [{status: 'R100', path: 'lib/a.ts', from: 'src/a.ts'}]
    expect(evaluateFilters([backend], moved)).toEqual([
      {name: 'backend', matched: true, files: ['lib/a.ts']}
    ])
    expect(evaluateFilters([backend], [])).toEqual([{name: 'backend', matched: false, files: []}])
    expect(evaluateFilters([backend], undefined)).toEqual([
      {name: 'backend', matched: true, files: []}
    ])
  })

  it("formats the file lists as paths-filter's json, csv and shell-escape", () => {
    const files = ['src/a.ts', 'docs/a b.md', "it's,odd.md", 'q"uote.md']
    expect(formatFileList(files, 'json')).toBe(JSON.stringify(files))
    expect(formatFileList(files, 'csv')).toBe('src/a.ts,docs/a b.md,"it\'s,odd.md","q""uote.md"')
    expect(formatFileList(files, 'shell-escape')).toBe(
      `src/a.ts 'docs/a b.md' 'it'\\''s,odd.md' 'q"uote.md'`
    )
    expect(formatFileList([], 'csv')).toBe('')
  })
})

describe('changes with named filters (real git)', () => {
  const fixtures: Fixture[] = []
  afterEach(() => {
    while (fixtures.length) fixtures.pop()!.cleanup()
  })

  async function checkout() {
    const f = await fixture([
      {
        files: {
          'src/app.ts': 'v0\n',
          'docs/guide.md': 'g\n',
          'web/index.html': '<p>\n',
          Dockerfile: 'FROM x\n'
        }
      },
      {files: {'src/app.ts': 'v1\n', 'docs/guide.md': 'g2\n', 'docs/internal/notes.md': 'n\n'}}
    ])
    fixtures.push(f)
    return {f, dir: await f.clone({depth: 5})}
  }

  it('answers every filter in one step: an output each, the matching files, and the list of matches', async () => {
    const {f, dir} = await checkout()
    const dotenv = join(dir, '..', 'changes.env')
    const r = await cli([
      'changes',
      '-C',
      dir,
      '--base',
      f.shas[0],
      '--build-paths',
      'src/**',
      '--filter',
      'backend=src/**,Dockerfile',
      '--filter',
      'docs=docs/**,!docs/internal/**',
      '--filter',
      'ui=web/**',
      '--list-files',
      'json',
      '--dotenv',
      dotenv
    ])
    expect(r.stderr).not.toMatch(/error|warning/)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(
      'filter backend: true (1 file)\nfilter docs: true (1 file)\nfilter ui: false\n'
    )
    const env = Object.fromEntries(
      readFileSync(dotenv, 'utf8')
        .trim()
        .split('\n')
        .map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])
    )
    expect(env).toMatchObject({
      GITOPS_BUILD: 'true',
      GITOPS_FILTERS: '["backend","docs"]',
      GITOPS_BACKEND: 'true',
      GITOPS_BACKEND_FILES: '["src/app.ts"]',
      GITOPS_DOCS: 'true',
      GITOPS_DOCS_FILES: '["docs/guide.md"]',
      GITOPS_UI: 'false',
      GITOPS_UI_FILES: '[]'
    })
  })

  it('reads the filters from a YAML file and lists files for the shell', async () => {
    const {f, dir} = await checkout()
    writeFileSync(join(dir, 'filters.yml'), "docs:\n  - 'docs/**'\nweb: web/**\n")
    const r = await cli([
      'changes',
      '-C',
      dir,
      '--base',
      f.shas[0],
      '--build-paths',
      'src/**',
      '--filters-file',
      'filters.yml',
      '--list-files',
      'shell-escape',
      '--json'
    ])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as {
      filters: Record<string, {matched: boolean; files: string[]}>
    }
    expect(out.filters).toEqual({
      docs: {matched: true, files: ['docs/guide.md', 'docs/internal/notes.md']},
      web: {matched: false, files: []}
    })
  })

  it('exits 2 naming the option for an unknown list format or an unreadable filters file', async () => {
    const {dir} = await checkout()
    const bad = await cli([
      'changes',
      '-C',
      dir,
      '--build-paths',
      'src/**',
      '--filter',
      'a=src/**',
      '--list-files',
      'yaml'
    ])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe(
      "error: --list-files 'yaml' is not known; use none, json, csv, shell-escape\n"
    )
    const missing = await cli([
      'changes',
      '-C',
      dir,
      '--build-paths',
      'src/**',
      '--filters-file',
      'nope.yml'
    ])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(
      /^error: --filters-file nope.yml cannot be read \(.*\); give a YAML file in the checkout\n$/
    )
  })
})
