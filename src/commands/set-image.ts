import {resolve} from 'node:path'
import {
  setImageEdit,
  type EditOutcome,
  type EditRequest,
  type FileEdit
} from '../edits/set-image.js'
import {tableCell as cell, tableHead, tableRow} from '../core/markdown.js'
import {defineCommand} from './types.js'
import {deliver, type Delivery} from '../delivery/deliver.js'
import {
  deliveryOptions,
  DELIVERY_OUTPUTS,
  dryRunOption,
  PR_OPTIONS,
  rootOption,
  readDelivery,
  type DeliverySettings,
  type PushDelivery
} from '../delivery/options.js'
import {
  deliveryExitCode,
  deliveryJson,
  deliveryOutputs,
  editText,
  prLifecycleText,
  remoteSummary,
  type RemoteReport
} from '../delivery/report.js'
import type {PrLifecycleResult} from '../delivery/pull-request.js'
import {showValue, validateMessageTemplate} from '../core/commit-message.js'
import type {Platform} from '../platform/port.js'
import {
  AFTER_PUSH_OPTIONS,
  AFTER_PUSH_OUTPUTS,
  afterPushExitCode,
  afterPushJson,
  afterPushOutputs,
  afterPushSummary,
  afterPushText,
  readAfterPush,
  runAfterPush,
  type AfterPush,
  type AfterPushReport
} from './after-push.js'

export interface SetImageSettings {
  request: EditRequest
  /** Where the edit lands: under -C, pushed to --repo, or proposed as a PR. */
  delivery: DeliverySettings
  /** --wait and --rollback-on-failure: what happens after the push. */
  afterPush: AfterPush
}

export interface SetImageResult {
  outcome: EditOutcome
  dryRun: boolean
  /** --mode pr: what the PR lifecycle did. */
  pr?: {outcome: EditOutcome; lifecycle: PrLifecycleResult}
  /** --repo in push mode: what the push did. */
  remote?: RemoteReport
  /** The delivery as a whole (absent in results built by hand). */
  delivery?: Delivery<EditOutcome>
  /** --wait: what Argo CD did with the commit (and --rollback-on-failure after it). */
  afterPush?: AfterPushReport
}

/** The facts the shared report renders, from a result. */
function facts(r: SetImageResult) {
  return {
    ...(r.pr ? {pr: r.pr.lifecycle} : {}),
    ...(r.remote ? {remote: r.remote} : {}),
    ...(r.delivery ? {checks: r.delivery.checks} : {})
  }
}

/** set-image pushed to a remote config repo (library use and benchmarks). */
export async function runRemoteSetImage(
  request: EditRequest,
  settings: Omit<PushDelivery, 'mode' | 'dryRun'>,
  dryRun: boolean,
  platform: Platform
): Promise<{outcome: EditOutcome; remote: RemoteReport}> {
  const d = await deliver(setImageEdit(request), {...settings, mode: 'push', dryRun}, platform)
  return {outcome: d.outcome, remote: d.remote!}
}

function what(edit: FileEdit): string {
  return edit.image !== undefined ? edit.image : (edit.key ?? '')
}

export const setImageCommand = defineCommand<SetImageSettings, SetImageResult>({
  name: 'set-image',
  description:
    'Set image tags and YAML values in a config repo (kustomize edit set image semantics, byte-preserving)',
  options: [
    rootOption('directory all paths are relative to; nothing outside it is read or written'),
    {
      name: 'path',
      type: 'list',
      description:
        'directory with a kustomization, or a glob of them (apps/*/overlays/production); default: the root',
      gitlab: {
        required: true,
        description:
          'Directories (kustomization) or files to edit, relative to the config repo; globs allowed.'
      }
    },
    {
      name: 'image',
      type: 'list',
      description:
        'kustomize edit set image argument: name:tag, name@digest, name=newName:tag@digest, * keeps a field',
      // One argument GitLab checks against the pattern at pipeline creation; `images` takes the rest.
      gitlab: {
        type: 'string',
        // Segments of reference characters (and CI/CD variables) joined by = : @, none empty: blocks
        // spaces, '!', '::' and a trailing ':' at pipeline creation; the CLI checks the full grammar.
        regex: '^([A-Za-z0-9._/${}*+-]+([=:@][A-Za-z0-9._/${}*+-]+)+)?$',
        description:
          'One image argument as for `kustomize edit set image`: name:tag, name@digest or name=newName:tag. CI/CD variables work, e.g. app=$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA.',
        more: {name: 'images', description: 'More image arguments, same syntax as image.'}
      }
    },
    {
      name: 'set',
      type: 'list',
      description:
        'set a scalar in any YAML file: <file>:<key.path>=<value> (e.g. values.yaml:image.tag=1.2.3)',
      gitlab: {
        description:
          'YAML values to set, as file:key.path=value (Helm values files, plain manifests).'
      }
    },
    {
      name: 'create-keys',
      type: 'boolean',
      description: 'let --set add keys that do not exist yet',
      gitlab: {
        description:
          'Let set add keys that do not exist yet (by default a missing key is an error).'
      }
    },
    {
      name: 'add-missing',
      type: 'boolean',
      description:
        'with a glob or several --path values, add each image to every matched overlay (kustomize behaviour) instead of only to the overlays that already pin or run it',
      gitlab: {
        description:
          'With a glob or several paths, add the image entry to every matched overlay, even where no container runs it.'
      }
    },
    dryRunOption('print a unified diff and write nothing'),
    ...deliveryOptions({defaultMode: 'push', local: true}),
    ...PR_OPTIONS,
    ...AFTER_PUSH_OPTIONS
  ],
  outputSpecs: [
    {
      name: 'changed',
      description: "'true' when a file changed (or would change under dry-run), else 'false'"
    },
    {name: 'edits', description: 'JSON array of {file, image | key, before, after}'},
    {name: 'files', description: 'JSON array of the root-relative files that changed'},
    {
      name: 'overlays',
      description:
        'JSON array of {dir, set, unchanged, skipped}: per kustomization, the images set, already set, or skipped because the overlay neither pins nor runs them (globs and several paths)'
    },
    ...DELIVERY_OUTPUTS,
    ...AFTER_PUSH_OUTPUTS
  ],
  gitlab: {
    description:
      'Record a new image tag (kustomize `edit set image` semantics) or YAML values in a GitOps config repo: one commit pushed race-safely, or one idempotent merge request. Outputs GITOPS_CHANGED, GITOPS_COMMIT, GITOPS_MR_URL, ... as a dotenv report. Token: masked CI/CD variable GITOPS_TOKEN.'
  },
  settings(input, env, platform) {
    const request = {
      paths: input.list('path'),
      images: input.list('image'),
      sets: input.list('set'),
      createKeys: input.boolean('create-keys') ?? false,
      addMissing: input.boolean('add-missing') ?? false
    }
    const delivery = readDelivery(
      input,
      env,
      {defaultMode: 'push', local: true, checkMessage: validateMessageTemplate},
      process.cwd()
    )
    // Actions run with the workspace as the working directory, so '.' is GITHUB_WORKSPACE there.
    if (delivery.mode === 'local') delivery.root = resolve(delivery.root)
    return {request, delivery, afterPush: readAfterPush(input, env, platform, delivery)}
  },
  async run(settings, platform) {
    const d = await deliver(setImageEdit(settings.request), settings.delivery, platform)
    const afterPush = await runAfterPush(settings.afterPush, settings.delivery, d, platform, {
      keys: d.outcome.edits.filter(e => e.key !== undefined).map(e => `${e.file}:${e.key}`)
    })
    return {
      outcome: d.outcome,
      dryRun: d.dryRun,
      ...(d.pr ? {pr: {outcome: d.outcome, lifecycle: d.pr}} : {}),
      ...(d.remote ? {remote: d.remote} : {}),
      delivery: d,
      afterPush
    }
  },
  outputs: r => ({
    changed: String(r.outcome.changed),
    edits: JSON.stringify(r.outcome.edits),
    files: JSON.stringify(r.outcome.files.map(f => f.file)),
    overlays: JSON.stringify(r.outcome.overlays ?? []),
    ...deliveryOutputs(facts(r)),
    ...afterPushOutputs(r.afterPush ?? {})
  }),
  json: r => ({
    changed: r.outcome.changed,
    edits: r.outcome.edits,
    files: r.outcome.files.map(f => f.file),
    ...(r.outcome.overlays ? {overlays: r.outcome.overlays} : {}),
    dryRun: r.dryRun,
    ...(r.dryRun ? {diff: r.outcome.diff} : {}),
    ...deliveryJson(facts(r)),
    ...afterPushJson(r.afterPush ?? {})
  }),
  summary(r) {
    const remote = (r.remote ? remoteSummary(r.remote) : '') + afterPushSummary(r.afterPush ?? {})
    if (!r.outcome.changed)
      return `### set-image\n\nNothing to change: every value was already set.\n${remote}`
    const rows = r.outcome.edits.map(e =>
      tableRow([e.file, what(e), showValue(e.before), showValue(e.after)].map(cell))
    )
    const table = [...tableHead(['file', 'image/key', 'before', 'after']), ...rows].join('\n')
    const note = r.dryRun
      ? '\n\nDry run: nothing was written.'
      : r.pr
        ? `\n\n${prLifecycleText(r.pr.lifecycle)}`
        : ''
    return `### set-image\n\n${table}${note}\n${remote}`
  },
  text(r) {
    const lines = r.outcome.edits.map(
      e => `${e.file}: ${what(e)} ${showValue(e.before)} -> ${showValue(e.after)}`
    )
    for (const o of r.outcome.overlays ?? []) {
      if (o.skipped.length === 0) continue
      lines.push(
        `${o.dir || '(the root)'}: skipped ${o.skipped.join(', ')} (neither pinned nor run there; --add-missing adds it)`
      )
    }
    const n = r.outcome.files.length
    if (!r.outcome.changed) lines.push('nothing to change')
    else if (r.dryRun)
      lines.push(`dry run: ${n} file${n === 1 ? '' : 's'} would change, nothing written`)
    else lines.push(`${n} file${n === 1 ? '' : 's'} changed`)
    const text = editText(lines, {
      changed: r.outcome.changed,
      dryRun: r.dryRun,
      diff: r.outcome.diff,
      ...facts(r)
    })
    return text + afterPushText(r.afterPush ?? {})
  },
  exitCode: r => Math.max(deliveryExitCode(facts(r)), afterPushExitCode(r.afterPush ?? {}))
})
