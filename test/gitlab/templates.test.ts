import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseAllDocuments} from 'yaml'
import {envInputName} from '../../src/adapters/gitlab/env-inputs.js'
import {GITLAB_ALIASES, dotenvKey} from '../../src/adapters/gitlab/dotenv.js'
import {findCommand} from '../../src/commands/registry.js'
import {COMPONENT_PROJECT, REPO_ROOT, TEMPLATES} from './gcl.js'

interface InputSpec {
  type?: 'string' | 'number' | 'boolean' | 'array'
  default?: unknown
  description?: string
  options?: unknown[]
  regex?: string
}

const NAMES = ['set-image', 'promote', 'argo-upsert', 'changes'] as const
/** Inputs about the job itself, not options of the command. */
const PLATFORM = ['stage', 'job-prefix', 'job-image', 'cli-source', 'cli-version', 'cli-path']
/** Component inputs that are not CLI options, and where they go. */
const GITLAB_ONLY: Record<string, string[]> = {
  'set-image': ['images'], // merged into GITOPS_INPUT_IMAGE after the regex-checked `image`
  changes: ['compare-to'] // only for the rules:changes hidden job
}
/** CLI options the components leave out on purpose. */
const NOT_OFFERED: Record<string, string[]> = {
  // Named filters (issue 16) reach the component when its inputs are generated from the option
  // tables; until then the component offers only the build decision.
  changes: ['filter', 'filters-file', 'list-files']
}
const GLOBAL_KEYWORDS = ['default', 'stages', 'variables', 'workflow', 'include', 'image', 'services', 'cache', 'before_script', 'after_script']

async function template(name: string) {
  const text = await readFile(join(TEMPLATES, name, 'template.yml'), 'utf8')
  const docs = parseAllDocuments(text)
  expect(docs).toHaveLength(2)
  const header = docs[0].toJS() as {
    spec: {description?: string; component?: string[]; inputs: Record<string, InputSpec | null>}
  }
  const body = text.slice(text.indexOf('\n---\n') + 5)
  const jobs = docs[1].toJS() as Record<string, Record<string, unknown>>
  return {text, body, spec: header.spec, inputs: header.spec.inputs as Record<string, InputSpec>, jobs}
}

const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {name: string; version: string}

describe.each(NAMES)('component %s', name => {
  it('has a catalog description and a description for every input', async () => {
    const t = await template(name)
    expect(t.spec.description?.length ?? 0).toBeGreaterThan(40)
    for (const [input, spec] of Object.entries(t.inputs)) {
      expect(spec?.description, input).toBeTruthy()
    }
  })

  it('makes stage, job prefix, job image and the CLI source/version inputs, pinned to this release', async () => {
    const t = await template(name)
    for (const p of PLATFORM) expect(Object.keys(t.inputs)).toContain(p)
    expect(t.inputs['cli-version'].default).toBe(pkg.version)
    expect(t.inputs['cli-source'].options).toEqual(['image', 'npm', 'local'])
  })

  it("runs by default the CLI image the component project's release published, at the component's version", async () => {
    const t = await template(name)
    expect(t.inputs['cli-source'].default).toBe('image')
    // The component project's registry, not the consumer's ($CI_REGISTRY_IMAGE would be theirs).
    expect(t.inputs['job-image'].default).toBe(`$CI_REGISTRY/${COMPONENT_PROJECT}/cli:$GITOPS_CLI_TAG`)
    expect(t.spec.component).toContain('version')
    expect(t.body).toContain('    GITOPS_CLI_TAG: $[[ component.version ]]\n')
  })

  it('runs the npm package of package.json, at the exact cli-version, when cli-source is npm', async () => {
    const t = await template(name)
    expect(t.body).toContain(`npm) set -- npx --yes --package "${pkg.name}@$GITOPS_CLI_VERSION" -- gitops-deploy ;;`)
    expect(t.body).not.toMatch(/npx[^\n]*"gitops-deploy@/)
  })

  it('declares no global keywords: every top-level key is a job named after job-prefix', async () => {
    const t = await template(name)
    for (const key of Object.keys(t.jobs)) {
      expect(GLOBAL_KEYWORDS).not.toContain(key)
      expect(key).toMatch(/^\.?\$\[\[ inputs\.job-prefix \]\]-[a-z-]+$/)
    }
    const job = t.jobs[`$[[ inputs.job-prefix ]]-${name}`]
    expect(job.stage).toBe('$[[ inputs.stage ]]')
    expect(job.image).toBe('$[[ inputs.job-image ]]')
    expect(job.artifacts).toEqual({reports: {dotenv: 'gitops.env'}})
  })

  it('never interpolates an input into a script; each reaches the CLI as a GITOPS_INPUT_* block scalar', async () => {
    const t = await template(name)
    for (const job of Object.values(t.jobs)) {
      for (const key of ['script', 'before_script', 'after_script']) {
        for (const line of (job[key] as string[] | undefined) ?? []) expect(line).not.toContain('$[[')
      }
    }
    const skip = new Set([...PLATFORM, ...(GITLAB_ONLY[name] ?? [])])
    for (const input of Object.keys(t.inputs).filter(i => !skip.has(i))) {
      expect(t.body, input).toContain(`    ${envInputName(input)}: |\n      $[[ inputs.${input} ]]\n`)
    }
    const used = new Set([...t.body.matchAll(/\$\[\[ inputs\.([a-z-]+) \]\]/g)].map(m => m[1]))
    expect([...used].sort()).toEqual(Object.keys(t.inputs).sort())
  })

  it('has defaults that satisfy their own options and regexes, with RE2-compatible regexes', async () => {
    const t = await template(name)
    for (const [input, spec] of Object.entries(t.inputs)) {
      const type = spec.type ?? 'string'
      if (spec.default !== undefined) {
        const actual = Array.isArray(spec.default) ? 'array' : typeof spec.default
        expect(actual, input).toBe(type)
      }
      if (spec.options && spec.default !== undefined) expect(spec.options, input).toContain(spec.default)
      if (spec.regex) {
        expect(type, `${input}: GitLab applies regex to strings only`).toBe('string')
        // GitLab evaluates regex with RE2: no lookaround, no backreferences.
        expect(spec.regex, input).not.toMatch(/\(\?[=!<]|\\[1-9]/)
        if (typeof spec.default === 'string') expect(new RegExp(spec.regex).test(spec.default), input).toBe(true)
      }
    }
  })

  it('offers the command options with matching types (once the command declares them)', async ({skip}) => {
    const def = findCommand(name)!
    const options = def.options.filter(o => !o.cliOnly && !o.actionOnly)
    if (options.length === 0) skip(`${name} still has its placeholder option table`)
    // set-image gains --repo (the remote path) after its local edit engine.
    if (name === 'set-image' && !options.some(o => o.name === 'repo')) skip(`${name} does not accept --repo yet`)
    const t = await template(name)
    const skipInputs = new Set([...PLATFORM, ...(GITLAB_ONLY[name] ?? [])])
    for (const [input, spec] of Object.entries(t.inputs)) {
      if (skipInputs.has(input)) continue
      const option = options.find(o => o.name === input)
      expect(option, `input ${input} is not an option of ${name}`).toBeDefined()
      const type = spec.type ?? 'string'
      const expected = {list: ['array'], boolean: ['boolean'], string: ['string', 'number']}[option!.type]
      // set-image's `image` is one regex-checked argument; `images` carries the rest of the list.
      if (name === 'set-image' && input === 'image') expected.push('string')
      expect(expected, `${input}: option type ${option!.type}, input type ${type}`).toContain(type)
    }
    const offered = new Set(Object.keys(t.inputs))
    for (const o of options) {
      if ((NOT_OFFERED[name] ?? []).includes(o.name)) continue
      expect(offered.has(o.name), `option --${o.name} of ${name} is not a component input`).toBe(true)
    }
  })
})

describe('gitlab/README.md (the CI/CD Catalog page)', () => {
  it('names every dotenv output of every component', async () => {
    const readme = await readFile(join(REPO_ROOT, 'gitlab/README.md'), 'utf8')
    for (const name of NAMES) {
      for (const o of findCommand(name)!.outputSpecs) expect(readme, `${name} ${o.name}`).toContain(dotenvKey(o.name))
    }
    for (const alias of Object.values(GITLAB_ALIASES)) expect(readme).toContain(dotenvKey(alias))
  })
})

describe('gitlab/image/Dockerfile (the CLI image of cli-source image)', async () => {
  const text = await readFile(join(REPO_ROOT, 'gitlab/image/Dockerfile'), 'utf8')
  const lines = text.split('\n').filter(l => l.trim() && !l.trim().startsWith('#'))

  it('pins its base image by digest', () => {
    const from = lines.filter(l => l.startsWith('FROM '))
    expect(from).toHaveLength(1)
    expect(from[0]).toMatch(/^FROM node:24-alpine@sha256:[0-9a-f]{64}$/)
  })

  it('installs nothing from npm and copies only the bundle: entry, dist/package.json, dist/bundle/', () => {
    expect(text).not.toMatch(/npm (install|i|ci)\b/)
    const sources = lines.filter(l => l.startsWith('COPY ')).map(l => l.split(/\s+/).slice(-2, -1)[0])
    expect(sources.sort()).toEqual(['dist/bundle/', 'dist/cli.js', 'dist/package.json'])
  })

  it('checks --version against the version it is built for, and runs as a non-root user', () => {
    expect(text).toContain('test "$(gitops-deploy --version)" = "$CLI_VERSION"')
    const user = lines.filter(l => l.startsWith('USER '))
    expect(user.length).toBeGreaterThan(0)
    expect(user.at(-1)).not.toMatch(/^USER (root|0)(:|$)/)
  })
})

describe('consumer docs of the CLI source', () => {
  for (const file of ['docs/gitlab.md', 'gitlab/README.md']) {
    it(`${file} names the npm package of package.json and vendors the three bundle pieces together`, async () => {
      const text = await readFile(join(REPO_ROOT, file), 'utf8')
      expect(text).toContain(`${pkg.name}@`)
      expect(text).not.toMatch(/npx (--yes )?gitops-deploy@/)
      for (const piece of ['dist/cli.js', 'dist/package.json', 'dist/bundle/']) expect(text).toContain(piece)
    })
  }
})
