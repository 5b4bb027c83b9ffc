/**
 * `set-chart-version`: bump a Helm chart's version in the config repo —
 * `version:` in a Chart.yaml, or `helmCharts[].version` of a named chart in a
 * kustomization — byte-preserving, under -C, pushed to --repo or as a PR.
 */
import {resolve} from 'node:path'
import {IMAGE_PLACEHOLDERS, messageTemplateCheck, showValue} from '../core/commit-message.js'
import {deliver, type Delivery} from '../delivery/deliver.js'
import {
  deliveryOptions,
  DELIVERY_OUTPUTS,
  dryRunOption,
  PR_OPTIONS,
  readDelivery,
  rootOption,
  type DeliverySettings
} from '../delivery/options.js'
import {
  deliveryExitCode,
  deliveryJson,
  deliveryOutputs,
  editText,
  prLifecycleText,
  remoteSummary
} from '../delivery/report.js'
import type {ChartVersionRequest} from '../core/helm/chart-version.js'
import {setChartVersionEdit, type ChartVersionOutcome} from '../edits/set-chart-version.js'
import {UsageError} from '../core/errors.js'
import {defineCommand} from './types.js'

export interface SetChartVersionSettings {
  request: ChartVersionRequest
  delivery: DeliverySettings
}

export type SetChartVersionResult = Delivery<ChartVersionOutcome>

function line(o: ChartVersionOutcome): string {
  return `${o.file}: ${o.key} ${showValue(o.before)} -> ${showValue(o.after)}`
}

export const setChartVersionCommand = defineCommand<SetChartVersionSettings, SetChartVersionResult>(
  {
    name: 'set-chart-version',
    description:
      "Set a Helm chart's version in a Chart.yaml or a kustomization's helmCharts, byte-preserving, by push or pull request",
    options: [
      rootOption('without --repo: the checkout the file is edited in'),
      {
        name: 'file',
        type: 'string',
        description: 'the Chart.yaml or kustomization.yaml to edit, relative to the config repo',
        gitlab: {
          required: true,
          regex: String.raw`^\S+$`,
          description:
            'The Chart.yaml or kustomization.yaml to edit, relative to the config repo, e.g. apps/web/Chart.yaml.'
        }
      },
      {
        name: 'chart',
        type: 'string',
        description: "kustomization only: the helmCharts entry's name",
        gitlab: {
          regex: String.raw`^[^\s\[\]="\\]*$`,
          description:
            'Name of the helmCharts entry to bump (kustomization.yaml only); empty for a Chart.yaml.'
        }
      },
      {
        name: 'version',
        type: 'string',
        description: 'the chart version to set (SemVer, e.g. 1.4.2)',
        gitlab: {
          required: true,
          // SemVer (Helm requires it), or a CI/CD variable that holds one.
          regex: String.raw`^(v?[0-9]+\.[0-9]+\.[0-9]+([-+]\S*)?|\S*\$\S*)$`,
          description:
            'The chart version to set (SemVer, e.g. 1.4.2); CI/CD variables work, e.g. $CI_COMMIT_TAG.'
        }
      },
      dryRunOption('print the diff and write nothing'),
      ...deliveryOptions({defaultMode: 'push', local: true}),
      ...PR_OPTIONS
    ],
    outputSpecs: [
      {name: 'changed', description: "'true' when the version changed (or would, under dry-run)"},
      {name: 'files', description: 'JSON array of the files that changed'},
      {name: 'before', description: 'the version before'},
      ...DELIVERY_OUTPUTS
    ],
    gitlab: {
      description:
        "Bump a Helm chart's version in a GitOps config repo: `version:` of a Chart.yaml, or `helmCharts[].version` of a named chart in a kustomization, byte-preserving; one commit pushed race-safely, or one idempotent merge request. Outputs GITOPS_CHANGED, GITOPS_BEFORE, GITOPS_COMMIT, ... as a dotenv report. Token: masked CI/CD variable GITOPS_TOKEN."
    },
    settings(input, env) {
      const file = input.string('file')?.trim()
      if (!file)
        throw new UsageError('--file is required: the Chart.yaml or kustomization.yaml to edit')
      const version = input.string('version')?.trim()
      if (!version)
        throw new UsageError('--version is required: the chart version to set, e.g. 1.4.2')
      const chart = input.string('chart')?.trim() || undefined
      const delivery = readDelivery(
        input,
        env,
        {
          defaultMode: 'push',
          local: true,
          checkMessage: messageTemplateCheck('set-chart-version', IMAGE_PLACEHOLDERS)
        },
        process.cwd()
      )
      if (delivery.mode === 'local') delivery.root = resolve(delivery.root)
      return {request: {file, version, ...(chart ? {chart} : {})}, delivery}
    },
    // The edit validates --file/--chart/--version before anything is read.
    run: (s, platform) => deliver(setChartVersionEdit(s.request), s.delivery, platform),
    outputs: d => ({
      changed: String(d.outcome.changed),
      files: JSON.stringify(d.files),
      before: d.outcome.before ?? '',
      ...deliveryOutputs(d)
    }),
    json: d => ({
      changed: d.outcome.changed,
      file: d.outcome.file,
      key: d.outcome.key,
      before: d.outcome.before,
      after: d.outcome.after,
      files: d.files,
      dryRun: d.dryRun,
      ...(d.dryRun ? {diff: d.outcome.diff} : {}),
      ...deliveryJson(d)
    }),
    summary(d) {
      const what = d.outcome.changed
        ? line(d.outcome)
        : 'Nothing to change: the version is already set.'
      const pr = d.pr ? `\n\n${prLifecycleText(d.pr)}` : ''
      return `### set-chart-version\n\n${what}${d.dryRun ? '\n\nDry run: nothing was written.' : pr}\n${d.remote ? remoteSummary(d.remote) : ''}`
    },
    text: d =>
      editText([d.outcome.changed ? line(d.outcome) : 'nothing to change'], {
        changed: d.outcome.changed,
        dryRun: d.dryRun,
        diff: d.outcome.diff,
        ...(d.pr ? {pr: d.pr} : {}),
        ...(d.remote ? {remote: d.remote} : {})
      }),
    exitCode: d => deliveryExitCode(d)
  }
)
