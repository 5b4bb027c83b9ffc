/**
 * A deliberately small edit used to test the git orchestration on its own:
 * sets `newTag:` of one image in every kustomization under the matching
 * directories. The real edit engine (src/edit/apply.ts) is exercised through
 * set-image in cli-remote.test.ts; remote-write takes any planner.
 */
import {readdir, readFile, writeFile} from 'node:fs/promises'
import {join, relative} from 'node:path'
import picomatch from 'picomatch'
import {UsageError} from '../../src/core/errors.js'
import type {Planner} from '../../src/edits/edit.js'

export interface TagOutcome {
  changed: boolean
  files: {file: string; before: string; after: string}[]
  edits: {file: string; image: string; before: string | null; after: string}[]
}

async function dirsUnder(root: string, dir = ''): Promise<string[]> {
  const entries = await readdir(join(root, dir), {withFileTypes: true})
  const out: string[] = []
  for (const e of entries) {
    if (!e.isDirectory() || e.name === '.git') continue
    const rel = dir ? `${dir}/${e.name}` : e.name
    out.push(rel, ...(await dirsUnder(root, rel)))
  }
  return out
}

export function tagPlanner(
  glob: string,
  image: string,
  tag: string,
  hooks: {beforeWrite?: () => Promise<void>} = {}
): Planner<TagOutcome> {
  return {
    patterns: {dirGlobs: [glob], files: []},
    async plan(root) {
      const match = picomatch(glob, {dot: true})
      const dirs = (await dirsUnder(root)).filter(d => match(d))
      if (dirs.length === 0)
        throw new UsageError(`--path ${glob} matches no directory; check the path`)
      const files: TagOutcome['files'] = []
      const edits: TagOutcome['edits'] = []
      for (const dir of dirs.sort()) {
        const file = `${dir}/kustomization.yaml`
        const before = await readFile(join(root, file), 'utf8').catch(() => null)
        if (before === null) continue
        const re = new RegExp(
          `(- name: ${image.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n\\s+newTag: )(\\S+)`
        )
        const m = re.exec(before)
        if (!m || m[2] === tag) continue
        files.push({
          file: relative(root, join(root, file)),
          before,
          after: before.replace(re, `$1${tag}`)
        })
        edits.push({file, image, before: `${image}:${m[2]}`, after: `${image}:${tag}`})
      }
      return {changed: files.length > 0, files, edits}
    },
    async write(root, outcome) {
      await hooks.beforeWrite?.()
      for (const f of outcome.files) await writeFile(join(root, f.file), f.after)
    }
  }
}

export function tagMessage(outcome: TagOutcome): string {
  return `Deploy ${outcome.edits.map(e => e.after).join(', ')}\n`
}
