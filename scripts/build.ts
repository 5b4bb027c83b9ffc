/**
 * Bundles the two entry points into dist/ and regenerates action.yml from the
 * command option tables, so the action's inputs can never drift from the CLI.
 * `--out <dir>` writes elsewhere (the staleness test compares the two).
 */
import {execFileSync} from 'node:child_process'
import {copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {renderActionYml} from './action-yml.js'

const root = resolve(import.meta.dirname, '..')
const outIndex = process.argv.indexOf('--out')
const out = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : root
const distDir = join(out, 'dist')
mkdirSync(distDir, {recursive: true})

const ncc = join(root, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js')
const entries: [string, string][] = [
  ['src/action.ts', 'index.js'],
  ['src/cli.ts', 'cli.js']
]
for (const [entry, file] of entries) {
  const work = mkdtempSync(join(tmpdir(), 'gitops-ncc-'))
  try {
    execFileSync(process.execPath, [ncc, 'build', join(root, entry), '-o', work, '-q', '--no-source-map-register'], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit']
    })
    const extra = readdirSync(work).filter(f => f !== 'index.js' && f !== 'package.json')
    if (extra.length > 0) throw new Error(`ncc emitted assets the action cannot load: ${extra.join(', ')}`)
    copyFileSync(join(work, 'index.js'), join(distDir, file))
  } finally {
    rmSync(work, {recursive: true, force: true})
  }
}
writeFileSync(join(distDir, 'package.json'), '{\n  "type": "module"\n}\n')
writeFileSync(join(out, 'action.yml'), renderActionYml())
