import {runCli} from '../../src/adapters/cli/main.js'
import type {Env} from '../../src/commands/types.js'
import {withoutRenderSkipNote} from './tools.js'

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/**
 * The CLI in-process (what src/cli.ts runs), with its output captured instead of printed. On a
 * machine without kubectl the render check's one skip note is left out of stderr.
 */
export async function cli(argv: string[], env: Env = {}): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(argv, {
    stdout: s => void (stdout += s),
    stderr: s => void (stderr += s),
    env
  })
  return {code, stdout, stderr: withoutRenderSkipNote(stderr)}
}
