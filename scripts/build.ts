/**
 * Bundles src/bundle.ts into dist/bundle/, writes the action and CLI entries,
 * and regenerates action.yml and the GitLab components (gitlab/templates/)
 * from the command option tables, so neither can drift from the CLI.
 * `--out <dir>` writes elsewhere (the staleness test compares the two).
 * The bundle carries package.json's version (src/version.ts), so `--version` names the build.
 */
import {execFileSync} from 'node:child_process'
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {renderActionYml} from './action-yml.js'
import {writeGitlabTemplates} from './gitlab-templates.js'

const root = resolve(import.meta.dirname, '..')
const outIndex = process.argv.indexOf('--out')
const out = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : root
const distDir = join(out, 'dist')
mkdirSync(distDir, {recursive: true})

const ncc = join(root, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js')
// One bundle (src/bundle.ts) in dist/bundle/, with the numbered chunks ncc splits off for
// lazily-required modules (rate-limiter-flexible's optional stores, via gitbeaker) beside it.
// The action and CLI entries are two-line files importing it, so the code ships once.
const bundleDir = join(distDir, 'bundle')
for (const old of ['cli', 'bundle']) rmSync(join(distDir, old), {recursive: true, force: true})
for (const file of readdirSync(distDir)) if (file.endsWith('.js')) rmSync(join(distDir, file))
const work = mkdtempSync(join(tmpdir(), 'gitops-ncc-'))
try {
  execFileSync(
    process.execPath,
    [ncc, 'build', join(root, 'src/bundle.ts'), '-o', work, '-q', '--no-source-map-register'],
    {cwd: root, stdio: ['ignore', 'inherit', 'inherit']}
  )
  mkdirSync(bundleDir, {recursive: true})
  for (const file of readdirSync(work)) {
    if (file === 'package.json') continue
    if (file !== 'index.js' && !/^\d+\.index\.js$/.test(file)) {
      throw new Error(`ncc emitted an asset the bundle may not find at run time: ${file}`)
    }
    copyFileSync(join(work, file), join(bundleDir, file))
  }
} finally {
  rmSync(work, {recursive: true, force: true})
}
injectVersion(join(bundleDir, 'index.js'))
writeFileSync(
  join(distDir, 'index.js'),
  "import {runAction} from './bundle/index.js'\n\nawait runAction()\n"
)
// The documented entry point stays `node dist/cli.js` (and the package bin).
writeFileSync(
  join(distDir, 'cli.js'),
  "#!/usr/bin/env node\nimport {runCliMain} from './bundle/index.js'\n\nawait runCliMain()\n",
  {mode: 0o755}
)
writeFileSync(join(distDir, 'package.json'), '{\n  "type": "module"\n}\n')
writeFileSync(join(out, 'action.yml'), renderActionYml())
writeGitlabTemplates(out)

/** Replaces src/version.ts's placeholder; exactly one site, or the build fails. */
function injectVersion(file: string): void {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {version: string}
  const placeholder = /(['"])__GITOPS_DEPLOY_VERSION__\1/g
  const text = readFileSync(file, 'utf8')
  const sites = text.match(placeholder)?.length ?? 0
  if (sites !== 1) {
    throw new Error(`expected the version placeholder once in ${file}, found it ${sites} times`)
  }
  writeFileSync(file, text.replace(placeholder, JSON.stringify(pkg.version)))
}
