import {resolve} from 'node:path'
import {
  planEdits,
  writeEdits,
  type EditOutcome,
  type EditRequest,
  type FileEdit
} from '../edit/apply.js'
import {tableCell as cell, tableHead, tableRow} from '../core/markdown.js'
import {defineCommand} from './types.js'
import {
  PR_OPTIONS,
  PR_OUTPUTS,
  prJson,
  prOutputs,
  prText,
  readMode,
  readPrSettings,
  runSetImagePr,
  type SetImagePrResult,
  type SetImagePrSettings
} from '../forge/set-image-pr.js'
import {
  REMOTE_OPTIONS,
  REMOTE_OUTPUTS,
  remoteJson,
  remoteOutputs,
  remoteSettings,
  remoteSummary,
  runRemoteSetImage,
  type RemoteReport,
  type RemoteSettings
} from '../git/remote-set-image.js'
import {TRANSPORT_OPTIONS, TRANSPORT_OUTPUTS} from '../transport/select.js'
import {editText} from './render-edits.js'
import {showValue} from '../core/commit-message.js'

export interface SetImageSettings {
  root: string
  request: EditRequest
  dryRun: boolean
  /** --mode pr: propose the edit to a remote config repo instead of editing --root. */
  pr?: SetImagePrSettings
  /** --repo without --mode pr: edit a fresh clone of the remote, commit and push. */
  remote?: RemoteSettings
}

export interface SetImageResult {
  outcome: EditOutcome
  dryRun: boolean
  pr?: SetImagePrResult
  remote?: RemoteReport
}

function what(edit: FileEdit): string {
  return edit.image !== undefined ? edit.image : (edit.key ?? '')
}

export const setImageCommand = defineCommand<SetImageSettings, SetImageResult>({
  name: 'set-image',
  description:
    'Set image tags and YAML values in a config repo (kustomize edit set image semantics, byte-preserving)',
  options: [
    {
      name: 'root',
      short: 'C',
      type: 'string',
      cliOnly: true,
      default: '.',
      description: 'directory all paths are relative to; nothing outside it is read or written'
    },
    {
      name: 'path',
      type: 'list',
      description:
        'directory with a kustomization, or a glob of them (apps/*/overlays/production); default: the root'
    },
    {
      name: 'image',
      type: 'list',
      description:
        'kustomize edit set image argument: name:tag, name@digest, name=newName:tag@digest, * keeps a field'
    },
    {
      name: 'set',
      type: 'list',
      description:
        'set a scalar in any YAML file: <file>:<key.path>=<value> (e.g. values.yaml:image.tag=1.2.3)'
    },
    {name: 'create-keys', type: 'boolean', description: 'let --set add keys that do not exist yet'},
    {name: 'dry-run', type: 'boolean', description: 'print a unified diff and write nothing'},
    ...PR_OPTIONS,
    ...REMOTE_OPTIONS,
    ...TRANSPORT_OPTIONS
  ],
  outputSpecs: [
    {
      name: 'changed',
      description: "'true' when a file changed (or would change under dry-run), else 'false'"
    },
    {name: 'edits', description: 'JSON array of {file, image | key, before, after}'},
    {name: 'files', description: 'JSON array of the root-relative files that changed'},
    ...PR_OUTPUTS,
    ...REMOTE_OUTPUTS,
    ...TRANSPORT_OUTPUTS
  ],
  settings(input, env) {
    const pr = readMode(input) === 'pr' ? readPrSettings(input, env) : undefined
    const remote = pr ? undefined : remoteSettings(input, env, process.cwd())
    return {
      ...(pr ? {pr} : {}),
      ...(remote ? {remote} : {}),
      // Actions run with the workspace as the working directory, so '.' is GITHUB_WORKSPACE there.
      root: resolve(input.string('root') ?? '.'),
      request: {
        paths: input.list('path'),
        images: input.list('image'),
        sets: input.list('set'),
        createKeys: input.boolean('create-keys') ?? false
      },
      dryRun: input.boolean('dry-run') ?? false
    }
  },
  async run(settings, platform) {
    if (settings.pr) {
      const pr = await runSetImagePr(settings.pr, settings.request, platform)
      return {outcome: pr.outcome, dryRun: false, pr}
    }
    if (settings.remote) {
      const r = await runRemoteSetImage(
        settings.request,
        settings.remote,
        settings.dryRun,
        platform
      )
      return {...r, dryRun: settings.dryRun}
    }
    const outcome = await planEdits(settings.root, settings.request)
    if (!settings.dryRun && outcome.changed) await writeEdits(settings.root, outcome)
    return {outcome, dryRun: settings.dryRun}
  },
  outputs: r => ({
    changed: String(r.outcome.changed),
    edits: JSON.stringify(r.outcome.edits),
    files: JSON.stringify(r.outcome.files.map(f => f.file)),
    ...prOutputs(r.pr),
    ...remoteOutputs(r.remote)
  }),
  json: r => ({
    changed: r.outcome.changed,
    edits: r.outcome.edits,
    files: r.outcome.files.map(f => f.file),
    dryRun: r.dryRun,
    ...(r.dryRun ? {diff: r.outcome.diff} : {}),
    ...prJson(r.pr),
    ...remoteJson(r.remote)
  }),
  summary(r) {
    const remote = r.remote ? remoteSummary(r.remote) : ''
    if (!r.outcome.changed)
      return `### set-image\n\nNothing to change: every value was already set.\n${remote}`
    const rows = r.outcome.edits.map(e =>
      tableRow([e.file, what(e), showValue(e.before), showValue(e.after)].map(cell))
    )
    const table = [...tableHead(['file', 'image/key', 'before', 'after']), ...rows].join('\n')
    const note = r.dryRun ? '\n\nDry run: nothing was written.' : r.pr ? `\n\n${prText(r.pr)}` : ''
    return `### set-image\n\n${table}${note}\n${remote}`
  },
  text(r) {
    const lines = r.outcome.edits.map(
      e => `${e.file}: ${what(e)} ${showValue(e.before)} -> ${showValue(e.after)}`
    )
    const n = r.outcome.files.length
    if (!r.outcome.changed) lines.push('nothing to change')
    else if (r.dryRun)
      lines.push(`dry run: ${n} file${n === 1 ? '' : 's'} would change, nothing written`)
    else lines.push(`${n} file${n === 1 ? '' : 's'} changed`)
    return editText(lines, {
      changed: r.outcome.changed,
      dryRun: r.dryRun,
      diff: r.outcome.diff,
      ...(r.pr ? {pr: r.pr.lifecycle} : {}),
      ...(r.remote ? {remote: r.remote} : {})
    })
  },
  exitCode: r => (r.remote?.rejected || r.remote?.verificationFailure ? 1 : 0)
})
