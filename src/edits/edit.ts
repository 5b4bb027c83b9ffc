/**
 * The edit contract: WHAT changes in the config repo, with no knowledge of
 * how it lands. delivery/ takes any Edit and writes it under -C, pushes it
 * (git or API) or proposes it as a pull request; a new edit never touches
 * delivery code.
 */
import type {EditPatterns} from '../git/sparse-set.js'
import type {FileWrite, RemoteView} from '../forge/repo-api.js'
import type {PrChange, TemplateContext} from '../forge/pr-body.js'
import type {Env} from '../platform/inputs.js'

/** What any planner's outcome must expose; set-image's EditOutcome fits as is. */
export interface PlanOutcome {
  changed: boolean
  files: {file: string}[]
}

/**
 * The edit, kept out of the git orchestration so set-image and promote can
 * each bring their own. `plan` must be a pure function of the checkout: it is
 * called again from scratch on every new tip after a lost push race.
 */
export interface Planner<O extends PlanOutcome> {
  /** Which directories and files the edit reads; decides the sparse checkout. */
  patterns: EditPatterns
  plan(root: string): Promise<O>
  write(root: string, outcome: O): Promise<void>
}

/** The edit, planned on a read-only view of one commit; called again from scratch after a lost race. */
export interface ApiPlanner<O extends PlanOutcome> {
  plan(view: RemoteView): Promise<{outcome: O; writes: FileWrite[]}>
}

export interface MessageContext {
  branch: string
  template?: string
  env: Env
}

/** One file write a plan intends, as the pre-write guards see it. */
export interface PlannedWrite {
  /** Repo-relative, `/`-separated. */
  path: string
  /** The text before the edit; null when the edit creates the file. */
  before: string | null
  /** The text the edit writes. */
  after: string
  /** The user asked for image entries no container may run (--add-missing): not a render failure. */
  addsUnusedImages?: boolean
}

/** Where a delivery lands the edit. */
export type DeliveryMode = 'local' | 'push' | 'pr'

export interface GuardContext {
  mode: DeliveryMode
  /** How the commit travels; absent in local mode. */
  transport?: 'git' | 'api'
  /** The working tree the plan ran on (local -C, or the git clone), before the writes. */
  root?: string
  /** The commit the plan ran on, when it was read through the forge API (no working tree). */
  view?: RemoteView
}

/**
 * A check on the planned writes that runs after planning and before anything
 * is written, committed or pushed, in every mode; it throws UsageError to
 * refuse the edit (exit 2, the remote untouched). Runs again on every re-plan.
 */
export type Guard = (writes: PlannedWrite[], ctx: GuardContext) => Promise<CheckReport | void>

/** What a check that passes (or was skipped) says, for the report. */
export interface CheckReport {
  check: 'render'
  /**
   * passed: it ran and found nothing wrong; none: nothing to check (no written file belongs to a
   * kustomization); skipped: it could not run (the text says why); off: turned off.
   */
  status: 'passed' | 'none' | 'skipped' | 'off'
  /** One line for the log and the job summary. */
  text: string
  /** The kustomizations it rendered. */
  rendered: string[]
  /** The renderer that ran. */
  tool?: string
  /** Kustomizations it could not judge (they did not render before the edit either). */
  notes?: string[]
}

/** What an edit brings to a pull request beyond its change lines. */
export interface PrFace<O> {
  /** The paths `{{path}}` names; the first is the default. */
  paths: string[]
  /**
   * Default head-branch template when --pr-branch is absent. A function when
   * the name depends on the base tip (promote --next): `peek` reads one file
   * there, through the forge API or git, before anything is checked out.
   */
  branchTemplate?:
    string | ((peek: (path: string) => Promise<string | undefined>) => Promise<string>)
  /** Default title template when --title is absent. */
  titleTemplate?: string
  /** Replaces the generated title, body and commit subject (promote writes its own description). */
  describe?(ctx: TemplateContext, outcome: O): {title: string; body: string; commitSubject?: string}
  /** `--transport auto` keeps git for this reason (promote: the rendered diff needs a checkout). */
  preferGit?: string
}

/**
 * One edit. `plan` is a pure function of the tree it is given: delivery calls
 * it again from scratch on every new tip after a lost race.
 */
export interface Edit<O extends PlanOutcome> {
  /** Which directories and files the edit reads; decides the sparse clone. */
  patterns: EditPatterns
  /** The plan on a working tree; writes nothing. */
  plan(root: string): Promise<O>
  /** Writes a plan into the tree it was made on (the one workspace writer). */
  write(root: string, outcome: O): Promise<void>
  /** The plan on a read-only view of a remote commit (the API transport). */
  planApi: ApiPlanner<O>['plan']
  /** The planned writes, for the guards. */
  writes(outcome: O): PlannedWrite[]
  /** The change lines of a PR body and of a PR commit. */
  prChanges(outcome: O): PrChange[]
  /** The commit message; `template` is --message when given, `env` the CI run (for trailers). */
  message(outcome: O, ctx: MessageContext): string
  pr: PrFace<O>
}
