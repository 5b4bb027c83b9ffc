/**
 * Where a Helm chart's version lives, and the byte-preserving bump: the
 * `version:` of a chart's own Chart.yaml, or `helmCharts[name=<chart>].version`
 * in a kustomization that inflates the chart. The YAML splice is the one
 * set-image's --set uses (core/yaml/set-value.ts): comments, quoting and
 * every other byte stay as they are.
 */
import {UsageError} from '../errors.js'
import {parseKeyPath, setValueInText, type SetValueResult} from '../yaml/set-value.js'

const KUSTOMIZATION = /(^|\/)(kustomization\.ya?ml|Kustomization)$/
const CHART = /(^|\/)Chart\.ya?ml$/
/** SemVer 2 as Helm requires it (a leading `v` is tolerated, as Helm does). */
const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/

export interface ChartVersionRequest {
  /** Root-relative Chart.yaml or kustomization file. */
  file: string
  /** The chart's name in `helmCharts` (kustomization only). */
  chart?: string
  version: string
}

/** The key path the request sets; throws UsageError for a file or flag combination that cannot work. */
export function chartVersionKeyPath(request: ChartVersionRequest): string {
  if (!SEMVER.test(request.version)) {
    throw new UsageError(
      `--version ${JSON.stringify(request.version)} is not a SemVer version (Helm requires one); e.g. --version 1.4.2`
    )
  }
  if (CHART.test(request.file)) {
    if (request.chart !== undefined) {
      throw new UsageError(
        `--chart only applies to a kustomization's helmCharts; ${request.file} is a chart's own Chart.yaml, drop --chart`
      )
    }
    return 'version'
  }
  if (KUSTOMIZATION.test(request.file)) {
    if (!request.chart) {
      throw new UsageError(
        `--chart is required for ${request.file}: name the helmCharts entry, e.g. --chart ingress-nginx`
      )
    }
    if (/[[\]="\\]/.test(request.chart)) {
      throw new UsageError(`--chart ${JSON.stringify(request.chart)} is not a chart name`)
    }
    return `helmCharts[name=${request.chart}].version`
  }
  throw new UsageError(
    `--file ${JSON.stringify(request.file)} is neither a Chart.yaml nor a kustomization.yaml; point it at one of them`
  )
}

/** Sets the version in the file's text; an absent key is an error, never created. */
export function setChartVersion(text: string, request: ChartVersionRequest): SetValueResult {
  const keyPath = chartVersionKeyPath(request)
  const {docSelector, steps} = parseKeyPath(keyPath, keyPath)
  return setValueInText(
    text,
    {docSelector, steps, value: request.version, keyPath},
    {createKeys: false, label: request.file}
  )
}
