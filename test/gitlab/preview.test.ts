import {readFile, readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, describe, expect, it, vi} from 'vitest'
import {componentCommands} from '../../scripts/gitlab-templates.js'
import {GCL_TEST_TIMEOUT_MS, golden, normalise, scratchProject, type ScratchProject} from './gcl.js'

vi.setConfig({testTimeout: GCL_TEST_TIMEOUT_MS, hookTimeout: GCL_TEST_TIMEOUT_MS})

const HERE = import.meta.dirname
const CONSUMERS = join(HERE, 'consumers')
const GOLDEN = join(HERE, 'golden')

const projects: ScratchProject[] = []
afterAll(async () => {
  await Promise.all(projects.map(p => p.cleanup()))
})

async function project(consumer: string): Promise<ScratchProject> {
  const p = await scratchProject(consumer)
  projects.push(p)
  return p
}

const consumers = (await readdir(CONSUMERS)).filter(f => f.endsWith('.yml')).sort()
/** Every generated component (scripts/gitlab-templates.ts). */
const COMPONENTS = componentCommands().map(c => c.name)

describe('gitlab-ci-local --preview of consumer pipelines (golden files)', () => {
  it('has a consumer pipeline for every component', () => {
    expect(consumers).toEqual(COMPONENTS.map(name => `${name}.yml`).sort())
  })

  // One test after the goldens are (re)written, so it checks the recorded expansions.
  for (const file of consumers) {
    it(`expands ${file} as recorded in golden/${file}`, async () => {
      const p = await project(await readFile(join(CONSUMERS, file), 'utf8'))
      const r = await p.gcl(['--preview'])
      expect(r.stderr).not.toMatch(/invalid|error/i)
      expect(r.code).toBe(0)
      const actual = normalise(r.stdout, p.dir)
      expect(actual).toBe(await golden(join(GOLDEN, file), actual))
    })
  }

  it('keeps every input out of the scripts: only GITOPS_INPUT_* variables carry them', async () => {
    for (const file of consumers) {
      const text = await readFile(join(GOLDEN, file), 'utf8')
      // No job script of a component mentions an input value; scripts are the fixed launcher.
      const launchers = text.match(/"\$@" [a-z-]+ --env-inputs --dotenv gitops\.env/g) ?? []
      expect(launchers.length, file).toBeGreaterThan(0)
      expect(text).not.toContain('$[[')
    }
  })
})

describe('input validation at pipeline creation', () => {
  const base = (inputs: string) => `include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/set-image@$CI_COMMIT_SHA
    inputs:
      repo: https://gitlab.example.com/acme/config.git
      path: [apps/web/overlays/dev]
${inputs}`

  it('rejects a value that is not among the options', async () => {
    const p = await project(base('      mode: merge\n'))
    const r = await p.gcl(['--preview'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('`mode` input: `merge` cannot be used because it is not in the list of allowed options')
  })

  it('rejects an image argument that does not match the regex (no tag, digest or =)', async () => {
    const p = await project(base('      image: registry.example.com/web latest\n'))
    const r = await p.gcl(['--preview'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('`image` input: `registry.example.com/web latest` does not match required regex')
  })

  it('rejects image references no registry can hold (an empty tag, a "!")', async () => {
    for (const bad of ["'Ghcr.io/ACME/web::'", "'web:bad!'", "'web:'"]) {
      const p = await project(base(`      image: ${bad}\n`))
      const r = await p.gcl(['--preview'])
      expect(r.code, bad).not.toBe(0)
      expect(r.stderr).toContain('`image` input:')
    }
    const ok = await project(base('      image: localhost:5000/web:1.0@sha256:abc\n      images: [web=$CI_REGISTRY_IMAGE/web:$CI_COMMIT_SHA]\n'))
    const r = await ok.gcl(['--preview'])
    expect(r.stderr).not.toMatch(/does not match/)
    expect(r.code).toBe(0)
  })

  it('rejects a job prefix that is not a job name', async () => {
    const p = await project(base('      job-prefix: Deploy Web\n'))
    const r = await p.gcl(['--preview'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('`job-prefix` input: `Deploy Web` does not match required regex')
  })

  it('rejects a CLI version that is not an exact semver (no ranges, no latest)', async () => {
    const p = await project(base('      cli-version: latest\n'))
    const r = await p.gcl(['--preview'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('`cli-version` input: `latest` does not match required regex')
  })

  it('rejects a wrong type (a word for a number, a string for an array)', async () => {
    const p = await project(base('      max-attempts: many\n'))
    const r = await p.gcl(['--preview'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('`max-attempts` input: provided value is not a number')
    const q = await project(`include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/changes@$CI_COMMIT_SHA
    inputs:
      build-paths: src/**
`)
    const s = await q.gcl(['--preview'])
    expect(s.code).not.toBe(0)
    expect(s.stderr).toContain('`build-paths` input: provided value is not a array')
  })

  it('requires the inputs without a default', async () => {
    const p = await project(`include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/argo-upsert@$CI_COMMIT_SHA
    inputs:
      server: https://argocd.example.com
`)
    const r = await p.gcl(['--preview'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/`(app|project|repo|path|revision|dest-namespace)` input: required value has not been provided/)
  })

  it('accepts CI/CD variable references where values are only known at run time', async () => {
    const p = await project(`include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/argo-upsert@$CI_COMMIT_SHA
    inputs:
      server: $ARGOCD_SERVER
      app: web-$CI_ENVIRONMENT_SLUG
      project: web
      repo: $CI_SERVER_URL/acme/config.git
      path: apps/web/overlays/dev
      revision: $GITOPS_COMMIT
      dest-name: \${CLUSTER}
      dest-namespace: web-\${CI_ENVIRONMENT_SLUG}
`)
    const r = await p.gcl(['--preview'])
    expect(r.stderr).not.toMatch(/invalid/i)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('web-$CI_ENVIRONMENT_SLUG')
  })
})

describe('the copy-paste recipes in docs/gitlab.md and gitlab/README.md', async () => {
  const blocks: {file: string; yaml: string}[] = []
  for (const file of ['docs/gitlab.md', 'gitlab/README.md']) {
    const text = await readFile(join(HERE, '../..', file), 'utf8')
    for (const m of text.matchAll(/```yaml\n([\s\S]*?)```/g)) {
      if (m[1].includes('component:') && m[1].includes('inputs:')) blocks.push({file, yaml: m[1]})
    }
  }

  it('has a recipe for each component', () => {
    const docs = blocks.filter(b => b.file === 'docs/gitlab.md').map(b => b.yaml)
    for (const name of COMPONENTS) {
      expect(docs.some(y => y.includes(`/gitops-deploy/${name}@`)), name).toBe(true)
    }
  })

  it.each(blocks.map((b, i) => [`${b.file} #${i + 1}`, b.yaml]))('%s is a valid pipeline', async (_, yaml) => {
    // Published references become the local component at HEAD, which gitlab-ci-local reads from disk.
    const local = yaml.replace(
      /(?:gitlab\.com|\$CI_SERVER_FQDN)\/acme\/gitops-deploy\/([a-z-]+)@\d+\.\d+\.\d+/g,
      '$$CI_SERVER_FQDN/acme/gitops-deploy/$1@$$CI_COMMIT_SHA'
    )
    expect(local).not.toMatch(/@\d+\.\d+\.\d+/)
    const p = await project(local)
    const r = await p.gcl(['--preview'])
    expect(r.stderr).not.toMatch(/invalid|error/i)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/--env-inputs --dotenv gitops\.env/)
  })
})
