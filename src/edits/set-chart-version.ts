/**
 * The set-chart-version edit: one chart version in one file (Chart.yaml, or a
 * kustomization's helmCharts entry), byte-preserving. It knows nothing of how
 * it lands: deliver() writes it under -C, pushes it or opens a PR.
 */
import {
  chartVersionKeyPath,
  setChartVersion,
  type ChartVersionRequest
} from '../core/helm/chart-version.js'
import {ciSourceFromEnv, renderCommitMessage} from '../core/commit-message.js'
import {unifiedDiff} from '../core/diff.js'
import type {Edit} from './edit.js'
import {materialisedPlanner} from './materialise.js'
import {checkRelative, openRoot, readUtf8, resolveInside, writeFiles} from './workspace.js'

export interface ChartVersionOutcome {
  changed: boolean
  file: string
  /** The key path set, e.g. `version` or `helmCharts[name=web].version`. */
  key: string
  before: string | null
  after: string
  files: {file: string; before: string; after: string}[]
  diff: string
}

/** Reads and computes; writes nothing. */
export async function planChartVersion(
  root: string,
  request: ChartVersionRequest
): Promise<ChartVersionOutcome> {
  const key = chartVersionKeyPath(request)
  const realRoot = await openRoot(root)
  const real = await resolveInside(realRoot, request.file, '--file')
  const before = await readUtf8(real, request.file)
  const result = setChartVersion(before, request)
  const changed = result.kind === 'changed'
  const files = changed ? [{file: request.file, before, after: result.text}] : []
  return {
    changed,
    file: request.file,
    key,
    before: result.before,
    after: result.after,
    files,
    diff: files.map(f => unifiedDiff(f.file, f.before, f.after)).join('')
  }
}

export function setChartVersionEdit(request: ChartVersionRequest): Edit<ChartVersionOutcome> {
  const file = checkRelative(request.file, '--file')
  const checked = {...request, file}
  // Validates the flags before anything is cloned or read.
  chartVersionKeyPath(checked)
  const patterns = {dirGlobs: [], files: [file]}
  const plan = (root: string) => planChartVersion(root, checked)
  const api = materialisedPlanner(patterns, plan, o =>
    o.files.map(f => ({path: f.file, content: Buffer.from(f.after, 'utf8')}))
  )
  const change = (o: ChartVersionOutcome) => ({
    file: o.file,
    name: request.chart ? `${request.chart} chart` : 'chart version',
    kind: 'key' as const,
    before: o.before,
    after: o.after
  })
  return {
    patterns,
    plan,
    write: (root, o) => writeFiles(root, o.files),
    planApi: view => api.plan(view),
    writes: o => o.files.map(f => ({path: f.file, before: f.before, after: f.after})),
    prChanges: o =>
      o.changed ? [{file: o.file, key: o.key, before: o.before ?? '', after: o.after}] : [],
    message: (o, ctx) =>
      renderCommitMessage(ctx.template, {
        changes: [change(o)],
        paths: [file],
        branch: ctx.branch,
        source: ciSourceFromEnv(ctx.env)
      }),
    pr: {paths: [file]}
  }
}
