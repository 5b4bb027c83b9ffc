/**
 * What a pushing command (set-image, promote) may do after its commit lands:
 * wait until Argo CD runs it (--wait) and, when it does not become healthy,
 * roll it back (--rollback-on-failure). One option table, read once; one
 * report, rendered the same way by every command that offers it.
 */
import type {Delivery} from '../delivery/deliver.js'
import type {DeliverySettings} from '../delivery/options.js'
import type {PlanOutcome} from '../edits/edit.js'
import type {Platform} from '../platform/port.js'
import {
  autoRollbackJson,
  autoRollbackOutputs,
  autoRollbackText,
  readRollbackOnFailure,
  rollbackAfterFailure,
  ROLLBACK_ON_FAILURE_OPTION,
  ROLLBACK_OUTPUTS,
  type AutoRollback
} from './rollback.js'
import type {Env, InputReader, OptionSpec, Outputs, OutputSpec} from './types.js'
import {
  readWaitFlag,
  runWaitAfter,
  WAIT_OPTIONS,
  WAIT_OUTPUTS,
  waitExitCode,
  waitJson,
  waitOutputs,
  waitSummary,
  waitText,
  type WaitReport,
  type WaitSettings
} from './wait-options.js'

export const AFTER_PUSH_OPTIONS: OptionSpec[] = [...WAIT_OPTIONS, ROLLBACK_ON_FAILURE_OPTION]
export const AFTER_PUSH_OUTPUTS: OutputSpec[] = [...WAIT_OUTPUTS, ...ROLLBACK_OUTPUTS]

export interface AfterPush {
  wait?: WaitSettings
  rollbackOnFailure?: boolean
}

export interface AfterPushReport {
  wait?: WaitReport
  rollback?: AutoRollback
}

/** --wait and --rollback-on-failure, refused where the delivery pushes nothing. */
export function readAfterPush(
  input: InputReader,
  env: Env,
  platform: Platform,
  delivery: DeliverySettings
): AfterPush {
  const wait = readWaitFlag(input, env, platform, delivery)
  const rollbackOnFailure = readRollbackOnFailure(input, wait)
  return {...(wait ? {wait} : {}), ...(rollbackOnFailure ? {rollbackOnFailure} : {})}
}

/** Waits for the pushed commit, and rolls it back when asked and the wait failed. */
export async function runAfterPush(
  a: AfterPush,
  settings: DeliverySettings,
  d: Pick<Delivery<PlanOutcome>, 'commit' | 'pushed' | 'branch' | 'files' | 'remote'>,
  platform: Platform,
  o: {
    environmentName?: string
    /** `<file>:<key.path>` values the run set (set-image --set): undone with the pins. */
    keys?: string[]
  } = {}
): Promise<AfterPushReport> {
  if (!a.wait) return {}
  const wait = await runWaitAfter(a.wait, settings, d, platform, o.environmentName)
  if (!wait) return {}
  if (!a.rollbackOnFailure || waitExitCode(wait) === 0) return {wait}
  const pushed = {commit: d.commit, files: d.files, ...(o.keys ? {keys: o.keys} : {})}
  return {wait, rollback: await rollbackAfterFailure(a.wait, settings, pushed, wait, platform)}
}

export function afterPushOutputs(r: AfterPushReport): Outputs {
  return {...waitOutputs(r.wait), ...autoRollbackOutputs(r.rollback)}
}

export function afterPushJson(r: AfterPushReport) {
  return {...(r.wait ? {wait: waitJson(r.wait)} : {}), ...autoRollbackJson(r.rollback)}
}

export function afterPushText(r: AfterPushReport): string {
  const lines = [...(r.wait ? waitText(r.wait) : []), ...autoRollbackText(r.rollback)]
  return lines.map(l => `${l}\n`).join('')
}

export function afterPushSummary(r: AfterPushReport): string {
  return (
    (r.wait ? `\n${waitSummary(r.wait)}` : '') +
    (r.rollback ? `\n${autoRollbackText(r.rollback).join('\n\n')}\n` : '')
  )
}

/** 1 when the wait failed (whatever the rollback did), else 0. */
export function afterPushExitCode(r: AfterPushReport): number {
  return waitExitCode(r.wait)
}
