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
// ncc splits lazily-required modules (rate-limiter-flexible's optional stores,
// pulled in by gitbeaker) into numbered chunks loaded relative to the bundle,
// so each entry keeps its chunks beside it: the action in dist/, the CLI in dist/cli/.
const entries: [string, string][] = [
  ['src/action.ts', distDir],
  ['src/cli.ts', join(distDir, 'cli')]
]
rmSync(join(distDir, 'cli'), {recursive: true, force: true})
for (const file of readdirSync(distDir))
  if (/^\d+\.index\.js$/.test(file)) rmSync(join(distDir, file))
for (const [entry, target] of entries) {
  const work = mkdtempSync(join(tmpdir(), 'gitops-ncc-'))
  try {
    execFileSync(
      process.execPath,
      [ncc, 'build', join(root, entry), '-o', work, '-q', '--no-source-map-register'],
      {
        cwd: root,
        stdio: ['ignore', 'inherit', 'inherit']
      }
    )
    mkdirSync(target, {recursive: true})
    for (const file of readdirSync(work)) {
      if (file === 'package.json') continue
      if (file !== 'index.js' && !/^\d+\.index\.js$/.test(file)) {
        throw new Error(`ncc emitted an asset the bundle may not find at run time: ${file}`)
      }
      copyFileSync(join(work, file), join(target, file))
    }
  } finally {
    rmSync(work, {recursive: true, force: true})
  }
}
// The documented entry point stays `node dist/cli.js` (and the package bin).
writeFileSync(join(distDir, 'cli.js'), "#!/usr/bin/env node\nimport './cli/index.js'\n", {
  mode: 0o755
})
writeFileSync(join(distDir, 'package.json'), '{\n  "type": "module"\n}\n')
writeFileSync(join(out, 'action.yml'), renderActionYml())
