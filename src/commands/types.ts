import type {Platform} from '../platform/port.js'
import type {GithubRun} from '../changes/ci-context.js'

/**
 * One declaration per option feeds every adapter: the CLI parser, the
 * generated `action.yml` inputs and the GitLab component inputs. An option is
 * `--kebab-name` on the command line, input `kebab-name` in the action.
 */
export interface OptionSpec {
  name: string
  /** list: repeatable flag on the CLI, multi-line input in the action. */
  type: 'string' | 'boolean' | 'list'
  description: string
  short?: string
  /** Default as documented; settings builders apply it, not the parser. */
  default?: string
  /** Not offered as an action input (e.g. `-C`, which the workspace decides). */
  cliOnly?: boolean
  /** Not offered on the CLI (e.g. the action's `token`, which maps to an env var). */
  actionOnly?: boolean
}

/** Options as an adapter read them; absent means "not given". */
export interface InputReader {
  string(name: string): string | undefined
  list(name: string): string[]
  boolean(name: string): boolean | undefined
}

export type Env = Readonly<Record<string, string | undefined>>

/** Name/value pairs an adapter exports: action outputs, GitLab dotenv. */
export type Outputs = Record<string, string>

export interface OutputSpec {
  name: string
  description: string
}

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
