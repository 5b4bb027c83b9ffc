import {runCli} from '../../src/adapters/cli/main.js'
import type {Env} from '../../src/commands/types.js'

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/** The CLI in-process (what src/cli.ts runs), with its output captured instead of printed. */
export async function cli(argv: string[], env: Env = {}): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(argv, {
    stdout: s => void (stdout += s),
    stderr: s => void (stderr += s),
    env
  })
  return {code, stdout, stderr}
}
