/**
 * One writer process for the concurrency test and benchmark: the real CLI
 * (`runCli`, what src/cli.ts runs), held back until "go" arrives on stdin so
 * that all writers start at the same moment.
 *   tsx test/git/concurrent-writer.ts <set-image options...>
 */
import {runCli} from '../../src/adapters/cli/main.js'

process.stdout.write('ready\n')
await new Promise<void>(resolve => process.stdin.once('data', () => resolve()))
process.stdin.destroy()
const code = await runCli(['set-image', ...process.argv.slice(2), '--json'], {
  stdout: s => process.stdout.write(s.replace(/\n(?!$)\s*/g, ' ')),
  stderr: s => process.stderr.write(s),
  env: process.env
})
process.exitCode = code
