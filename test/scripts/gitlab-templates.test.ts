import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {parseAllDocuments} from 'yaml'
import {
  componentCommands,
  GENERATED_HEADER,
  renderGitlabTemplate,
  renderGitlabTemplates,
  TEMPLATES_DIR,
  writeGitlabTemplates
} from '../../scripts/gitlab-templates.js'
import {commands} from '../../src/commands/registry.js'
import {defineCommand, type CommandDefinition, type OptionSpec} from '../../src/commands/types.js'

const root = resolve(import.meta.dirname, '..', '..')
const FIX =
  "run 'npx tsx scripts/gitlab-templates.ts' (npm run build does too) and commit the result"

// The components are what GitLab users include; a stale one offers yesterday's inputs.
describe('committed GitLab components', () => {
  const generated = renderGitlabTemplates()

  it.each([...generated.keys()])('gitlab/templates/%s/template.yml matches the generator', name => {
    const committed = readFileSync(join(root, TEMPLATES_DIR, name, 'template.yml'), 'utf8')
    expect(committed === generated.get(name), `${name} is stale: ${FIX}`).toBe(true)
  })

  it('has no template the generator does not write (no hand-written or orphaned component)', () => {
    const onDisk = readdirSync(join(root, TEMPLATES_DIR)).sort()
    expect(onDisk, FIX).toEqual([...generated.keys()].sort())
  })
})

/** A command as another branch would add it: an option table, no GitLab declarations. */
function command(options: OptionSpec[], extra: Partial<CommandDefinition> = {}): CommandDefinition {
  return defineCommand({
    name: 'wait-for-it',
    description: 'Wait until the deployed revision is live',
    options,
    outputSpecs: [
      {name: 'revision', description: 'the revision seen'},
      {name: 'waited', description: 'seconds waited'}
    ],
    settings: () => ({}),
    run: async () => ({}),
    outputs: () => ({}),
    json: () => ({}),
    summary: () => '',
    text: () => '',
    ...extra
  })
}

function parse(text: string) {
  const docs = parseAllDocuments(text)
  expect(docs).toHaveLength(2)
  const spec = (
    docs[0].toJS() as {spec: {description: string; inputs: Record<string, Record<string, unknown>>}}
  ).spec
  return {spec, inputs: spec.inputs, body: text.slice(text.indexOf('\n---\n') + 5)}
}

describe('scripts/gitlab-templates.ts', () => {
  it('gives a command added to the registry a component from its option table alone', () => {
    const text = renderGitlabTemplate(
      command([
        {name: 'root', short: 'C', type: 'string', cliOnly: true, description: 'checkout'},
        {name: 'token', type: 'string', actionOnly: true, description: 'a token'},
        {name: 'app', type: 'string', description: 'the app to wait for\n(see --server)'},
        {name: 'health', type: 'list', description: 'health values that count as done'},
        {name: 'insecure', type: 'boolean', description: 'skip TLS verification'},
        {
          name: 'timeout',
          type: 'string',
          default: '300',
          description: 'seconds to wait',
          gitlab: {type: 'number'}
        },
        {
          name: 'mode',
          type: 'string',
          description: 'how to wait',
          choices: ['poll', 'watch']
        }
      ])
    )
    expect(text.startsWith(`${GENERATED_HEADER}\n`)).toBe(true)
    const {spec, inputs, body} = parse(text)
    expect(spec.description).toBe(
      'Wait until the deployed revision is live. Outputs GITOPS_REVISION, GITOPS_WAITED, ... as a dotenv report.'
    )
    expect(Object.keys(inputs)).toEqual([
      'stage',
      'job-prefix',
      'job-image',
      'cli-source',
      'cli-version',
      'cli-path',
      'app',
      'health',
      'insecure',
      'timeout',
      'mode'
    ])
    // Empty defaults: the CLI applies its own; flags named as inputs; a full stop.
    expect(inputs.app).toEqual({default: '', description: 'The app to wait for (see server).'})
    expect(inputs.health).toMatchObject({type: 'array', default: []})
    expect(inputs.insecure).toMatchObject({type: 'boolean', default: false})
    expect(inputs.timeout).toMatchObject({type: 'number', default: 300})
    expect(inputs.mode).toMatchObject({default: '', options: ['', 'poll', 'watch']})
    for (const name of ['app', 'health', 'insecure', 'timeout', 'mode']) {
      const variable = `GITOPS_INPUT_${name.toUpperCase()}`
      expect(body).toContain(`    ${variable}: |\n      $[[ inputs.${name} ]]\n`)
    }
    expect(body).toContain('"$@" wait-for-it --env-inputs --dotenv gitops.env')
    expect(body).toContain('"$[[ inputs.job-prefix ]]-wait-for-it":')
  })

  it('makes a component for every registry command except those that opt out', () => {
    expect(componentCommands().map(c => c.name)).toEqual(
      commands.filter(c => c.gitlab !== false).map(c => c.name)
    )
    for (const name of [
      'set-image',
      'promote',
      'argo-upsert',
      'changes',
      'argo-app',
      'set-chart-version'
    ]) {
      expect(renderGitlabTemplates().has(name), name).toBe(true)
    }
    const optedOut = command([], {gitlab: false})
    expect(renderGitlabTemplates([optedOut]).size).toBe(1)
    expect(componentCommands()).not.toContain(optedOut)
  })

  it("applies a command's own words and defaults for a shared option", () => {
    const shared: OptionSpec = {
      name: 'mode',
      type: 'string',
      description: 'push or pr',
      choices: ['push', 'pr'],
      gitlab: {default: 'push', description: 'push commits; pr opens a merge request.'}
    }
    const {inputs} = parse(
      renderGitlabTemplate(command([shared], {gitlab: {inputs: {mode: {default: 'pr'}}}}))
    )
    expect(inputs.mode).toEqual({
      default: 'pr',
      options: ['pr', 'push'],
      description: 'push commits; pr opens a merge request.'
    })
  })

  it.each<[string, OptionSpec[], Partial<CommandDefinition>, RegExp]>([
    [
      'a regex on an array input',
      [{name: 'app', type: 'list', description: 'apps', gitlab: {regex: '^a$'}}],
      {},
      /regex to strings only/
    ],
    [
      'a default its own regex refuses',
      [{name: 'app', type: 'string', description: 'app', gitlab: {regex: '^[a-z]+$'}}],
      {},
      /fails its own regex/
    ],
    [
      'a default outside the options',
      [
        {
          name: 'mode',
          type: 'string',
          description: 'mode',
          choices: ['a', 'b'],
          gitlab: {default: 'c'}
        }
      ],
      {},
      /not among the options/
    ],
    [
      'a number input without a number',
      [{name: 'timeout', type: 'string', description: 't', gitlab: {type: 'number'}}],
      {},
      /without a numeric default/
    ],
    [
      'a number input for a boolean option',
      [{name: 'wait', type: 'boolean', description: 'w', gitlab: {type: 'number'}}],
      {},
      /is a boolean, not a number input/
    ],
    [
      'a lookahead (GitLab uses RE2)',
      [{name: 'app', type: 'string', description: 'a', gitlab: {regex: '^(?!-).*$'}}],
      {},
      /not RE2/
    ],
    [
      "command facts for an option it doesn't offer",
      [{name: 'app', type: 'string', description: 'a'}],
      {gitlab: {inputs: {ap: {default: 'x'}}}},
      /gitlab.inputs names ap/
    ],
    [
      'an option named like a platform input',
      [{name: 'stage', type: 'string', description: 'a'}],
      {},
      /two component inputs are named stage/
    ]
  ])('refuses %s', (_, options, extra, error) => {
    expect(() => renderGitlabTemplate(command(options, extra))).toThrow(error)
  })

  describe('writing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gitops-gl-templates-'))
    afterAll(() => rmSync(dir, {recursive: true, force: true}))

    it('removes a generated component whose command is gone and keeps a hand-written one', () => {
      const templates = join(dir, TEMPLATES_DIR)
      for (const [name, text] of [
        ['gone', `${GENERATED_HEADER}\nspec: {}\n`],
        ['by-hand', 'spec: {}\n']
      ]) {
        mkdirSync(join(templates, name), {recursive: true})
        writeFileSync(join(templates, name, 'template.yml'), text)
      }
      const written = writeGitlabTemplates(dir, [command([])])
      expect(written).toEqual([join(TEMPLATES_DIR, 'wait-for-it', 'template.yml')])
      // The hand-written one stays for the drift test above to name.
      expect(readdirSync(templates).sort()).toEqual(['by-hand', 'wait-for-it'])
    })
  })
})
