/**
 * The one module bundled into dist/: the action and the CLI entries are two-line
 * files importing it, so the shipped code exists once (not two 2.7 MB copies
 * with duplicate lazy chunks) and both entries always run the same build.
 */
import {runCli} from './adapters/cli/main.js'
import {exitCleanlyOnSignals} from './adapters/interrupt.js'

export {run as runAction} from './adapters/github/main.js'

export async function runCliMain(): Promise<void> {
  exitCleanlyOnSignals(message => process.stderr.write(`error: ${message}\n`))
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: s => process.stdout.write(s),
    stderr: s => process.stderr.write(s),
    env: process.env
  })
}
