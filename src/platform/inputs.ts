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
  /**
   * The values the settings builder accepts (it checks them itself); generated inputs offer
   * them as a list (GitLab `options`, checked when the pipeline is created).
   */
  choices?: readonly string[]
  /** How the GitLab component offers the option (absent: derived); false: not offered. */
  gitlab?: GitlabInput | false
}

/**
 * Where a component lists an input: the delivery's target first, then the
 * command's own options (no section), then how the commit is made, the
 * pull/merge request, the forge, and the run switches (dry-run).
 */
export type InputSection = 'target' | 'commit' | 'pr' | 'forge' | 'run'

/**
 * The GitLab facts of one option, for scripts/gitlab-templates.ts. Every
 * field is optional: the type follows the option (list -> array), the
 * default is the empty value of the type ('' / false / []), and the
 * description is the option's own.
 */
export interface GitlabInput {
  /** In GitLab words (merge request, CI/CD variables); one sentence or more, ending in a period. */
  description?: string
  /** number: a count or seconds (GitLab checks it); string: a list option offered as one value (see `more`). */
  type?: 'number' | 'string'
  /** The input's default. The CLI's defaults apply to an empty value, so '' is the usual one. */
  default?: string | number | boolean | readonly string[]
  /** No default: the pipeline cannot be created without it. */
  required?: boolean
  /** RE2 regex checked at pipeline creation (string inputs only); must let CI/CD variable references through where they make sense. */
  regex?: string
  section?: InputSection
  /** A second, array input whose values follow this one's in the same variable (set-image's `images`). */
  more?: {name: string; description: string}
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
