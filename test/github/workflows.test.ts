import {readdirSync, readFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'

const root = resolve(import.meta.dirname, '..', '..')
const dir = join(root, '.github', 'workflows')
const workflows = readdirSync(dir).filter(f => f.endsWith('.yml'))

interface Step {
  uses?: string
  run?: string
  name?: string
}

function steps(file: string): Step[] {
  const doc = parse(readFileSync(join(dir, file), 'utf8')) as {
    jobs: Record<string, {steps: Step[]}>
  }
  return Object.values(doc.jobs).flatMap(j => j.steps ?? [])
}

describe('GitHub workflows', () => {
  it('pin every third-party action by full commit SHA with the release in a comment', () => {
    const unpinned: string[] = []
    for (const file of workflows) {
      for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
        const m = /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line)
        if (!m || m[1].startsWith('./')) continue
        if (
          !/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(m[1]) ||
          !/#\s*v\d+(\.\d+){0,2}\b/.test(m[2])
        ) {
          unpinned.push(`${file}: ${line.trim()}`)
        }
      }
    }
    expect(unpinned).toEqual([])
  })

  it('release: builds dist/, fails when it is stale, creates the release, moves the major tag', () => {
    const run = steps('release.yml')
      .map(s => s.run ?? '')
      .join('\n')
    expect(run).toContain('npm run build')
    expect(run).toContain('git status --porcelain dist action.yml')
    expect(run).toMatch(/gh release create "\$GITHUB_REF_NAME" --verify-tag/)
    expect(run).toContain('major="${GITHUB_REF_NAME%%.*}"')
    expect(run).toContain('git push -f origin "refs/tags/$major"')
    const doc = parse(readFileSync(join(dir, 'release.yml'), 'utf8')) as {
      on: {push: {tags: string[]}}
    }
    expect(doc.on.push.tags).toEqual(['v[0-9]+.[0-9]+.[0-9]+'])
  })

  it('ci: the `uses: ./` job also runs failure paths and checks they failed', () => {
    const all = steps('ci.yml')
    const failing = all.filter(
      s => s.uses === './' && (s as {'continue-on-error'?: boolean})['continue-on-error']
    )
    expect(failing.length).toBeGreaterThanOrEqual(3)
    const check = all.map(s => s.run ?? '').join('\n')
    expect(check).toContain('test "$FAILURES" = \'failure failure failure\'')
  })
})

describe('consumer docs', () => {
  for (const file of ['README.md', 'docs/github.md']) {
    it(`${file} shows the major tag and pinning by full SHA`, () => {
      const text = readFileSync(join(root, file), 'utf8')
      expect(text).toMatch(/uses: <owner>\/gitops-deploy@v1\b/)
      expect(text).toMatch(/uses: <owner>\/gitops-deploy@<40-hex commit SHA> # v1\.\d+\.\d+/)
    })
  }
  it('docs/github.md explains upgrades with Dependabot and Renovate', () => {
    const text = readFileSync(join(root, 'docs/github.md'), 'utf8')
    expect(text).toContain('package-ecosystem: github-actions')
    expect(text).toMatch(/Renovate/)
  })
})
