import type {Platform} from '../platform/port.js'
import type {Env, InputReader, OptionSpec, Outputs, OutputSpec} from '../platform/inputs.js'
import type {GithubRun} from '../changes/ci-context.js'

// The vocabulary lives in platform/ (below every layer that speaks it); re-exported for the commands.
export type {Env, InputReader, OptionSpec, Outputs, OutputSpec}

export interface CommandDefinition<S = unknown, R = unknown> {
  name: string
  description: string
  options: OptionSpec[]
  /** Every key `outputs()` may return, for action.yml and the GitLab docs. */
  outputSpecs: OutputSpec[]
  /**
   * Builds and validates settings; throws UsageError on bad input. `github` is the GitHub event
   * as the adapter read it (the Action: `@actions/github`'s context), when running there.
   */
  settings(input: InputReader, env: Env, platform: Platform, github?: GithubRun): S
  run(settings: S, platform: Platform): Promise<R>
  /** Keys in kebab-case; the GitLab adapter maps them to GITOPS_* names. */
  outputs(result: R): Outputs
  /** The `--json` object. */
  json(result: R): unknown
  /** Markdown for the job summary (GitHub) or log (GitLab). */
  summary(result: R): string
  /** Human text for the CLI without --json. */
  text(result: R): string
  /** Non-zero when the result itself is a failure (e.g. a deploy went Degraded). */
  exitCode?(result: R): number
}

export function defineCommand<S, R>(def: CommandDefinition<S, R>): CommandDefinition<S, R> {
  return def
}
