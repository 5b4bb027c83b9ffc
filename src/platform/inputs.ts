/**
 * The vocabulary every layer shares: how an option is declared, how an
 * adapter hands options and the environment over, and what a command
 * exports. It sits at the bottom (with core) so delivery, forge and git can
 * speak it without importing the commands that sit above them.
 */

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

/** The process environment as a command sees it (tests pass their own). */
export type Env = Readonly<Record<string, string | undefined>>

/** Name/value pairs an adapter exports: action outputs, GitLab dotenv. */
export type Outputs = Record<string, string>

export interface OutputSpec {
  name: string
  description: string
}
