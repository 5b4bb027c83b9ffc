/**
 * `argo-app`: the declarative twin of argo-upsert. The same Application is
 * written as a manifest into the config repo (for an app-of-apps parent to
 * pick up) through set-image's paths: in place under -C, committed and
 * pushed race-safely with --repo, or proposed as a pull request with
 * --mode pr. Nothing talks to Argo CD.
 */
import {resolve} from 'node:path'
import {formatChange} from '../argocd/application.js'
import type {ManifestRequest} from '../argocd/manifest.js'
import {IMAGE_PLACEHOLDERS, messageTemplateCheck} from '../core/commit-message.js'
import {UsageError} from '../core/errors.js'
import {deliver, type Delivery} from '../delivery/deliver.js'
import {
  deliveryOptions,
  DELIVERY_OUTPUTS,
  dryRunOption,
  PR_OPTIONS,
  rootOption,
  readDelivery,
  type DeliverySettings
} from '../delivery/options.js'
import type {PrLifecycleResult} from '../delivery/pull-request.js'
import {
  deliveryExitCode,
  checkOutputs,
  editText,
  prLifecycleJson,
  prLifecycleOutputs,
  prLifecycleText,
  remoteJson,
  remoteSummary,
  type RemoteReport
} from '../delivery/report.js'
import {argoAppEdit, type ManifestOutcome} from '../edits/argo-app.js'
import {checkRelative} from '../edits/workspace.js'
import {
  APPLICATION_OPTIONS,
  optionalRegex,
  readAppSettings,
  SOURCE_REPO_REGEX
} from './argo-upsert.js'
import {defineCommand} from './types.js'

// Re-exported: tests and library callers plan a manifest without a delivery.
export {planManifest, writeManifest, manifestPlanner} from '../edits/argo-app.js'
export type {ManifestFile, ManifestOutcome} from '../edits/argo-app.js'

export const DEFAULT_MANIFEST_DIR = 'argocd/apps'

const FINALIZER =
  /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?(\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/

export interface ArgoAppSettings {
  request: ManifestRequest
  /** Root-relative posix path of the manifest. */
  manifest: string
  /** Where the manifest lands: under -C, pushed to --repo, or proposed as a PR. */
  delivery: DeliverySettings
}

export interface ArgoAppResult {
  outcome: ManifestOutcome
  dryRun: boolean
  remote?: RemoteReport
  pr?: PrLifecycleResult
  /** The delivery as a whole (absent in results built by hand). */
  delivery?: Delivery<ManifestOutcome>
}

function fence(diff: string): string {
  const ticks = '`'.repeat(Math.max(3, ...[...diff.matchAll(/`{3,}/g)].map(m => m[0].length + 1)))
  return `${ticks}diff\n${diff}${diff.endsWith('\n') ? '' : '\n'}${ticks}`
}

function headline(r: ArgoAppResult): string {
  const o = r.outcome
  if (!o.changed) return `Application ${o.app} in ${o.manifest} is up to date; nothing to change`
  const verb = o.operation === 'created' ? 'created' : 'updated'
  return r.dryRun
    ? `dry run: ${o.manifest} would be ${verb} (Application ${o.app}), nothing written`
    : `${o.manifest}: Application ${o.app} ${verb}`
}

// ------------------------------------------------------------ the command ---

// argo-app writes a manifest and never waits: its --revision help does not speak of --wait.
const OWN_OPTIONS = APPLICATION_OPTIONS.filter(o => o.name !== 'repo').map(o =>
  o.name === 'revision'
    ? {...o, description: 'Revision Argo CD deploys: a commit SHA, tag or branch'}
    : o
)

export const argoAppCommand = defineCommand<ArgoAppSettings, ArgoAppResult>({
  name: 'argo-app',
  description:
    'Write an Argo CD Application manifest into the config repo (app-of-apps), byte-preserving, by push or pull request',
  options: [
    rootOption('without --repo: the checkout the manifest is written in'),
    {
      name: 'manifest',
      type: 'string',
      description: `Application manifest path in the config repo (default: ${DEFAULT_MANIFEST_DIR}/<app>.yaml)`,
      gitlab: {
        regex: String.raw`^\S*$`,
        description: `Path of the Application manifest in the config repo; empty means ${DEFAULT_MANIFEST_DIR}/<app>.yaml.`
      }
    },
    ...OWN_OPTIONS,
    {
      name: 'source-repo',
      type: 'string',
      description:
        'spec.source.repoURL: the repo Argo CD reads --path from (default: --repo, the config repo)',
      gitlab: {
        regex: optionalRegex(SOURCE_REPO_REGEX),
        description:
          'spec.source.repoURL, the repository Argo CD reads path from, as Argo CD knows it; empty means repo (the config repo).'
      }
    },
    {
      name: 'finalizer',
      type: 'list',
      description:
        'metadata.finalizers entry to ensure, e.g. resources-finalizer.argocd.argoproj.io (others are kept)',
      gitlab: {
        description:
          'metadata.finalizers entries to ensure, e.g. [resources-finalizer.argocd.argoproj.io] (others are kept).'
      }
    },
    dryRunOption('print the diff and write nothing'),
    ...deliveryOptions({defaultMode: 'push', local: true}),
    ...PR_OPTIONS
  ],
  outputSpecs: [
    {
      name: 'changed',
      description: "'true' when the manifest changed (or would, under dry-run), else 'false'"
    },
    {
      name: 'operation',
      description: 'What happened to the manifest: created, updated or unchanged'
    },
    {name: 'manifest', description: 'Root-relative path of the Application manifest'},
    ...DELIVERY_OUTPUTS
  ],
  gitlab: {
    description:
      'Write an Argo CD Application manifest into the GitOps config repo, for an app-of-apps parent to pick up: created or updated byte-preserving, in one commit pushed race-safely or one idempotent merge request. Nothing talks to Argo CD. Outputs GITOPS_CHANGED, GITOPS_OPERATION, GITOPS_MANIFEST, GITOPS_COMMIT, ... as a dotenv report. Token: masked CI/CD variable GITOPS_TOKEN.',
    // argo-upsert's words about the source fit a manifest too, except where they talk to the server.
    inputs: {
      path: {
        description:
          'Directory of the manifests inside source-repo (by default the config repo), e.g. apps/web/overlays/dev.'
      },
      revision: {
        description:
          'spec.source.targetRevision: the commit SHA, tag or branch Argo CD deploys, e.g. HEAD or main.'
      },
      'sync-policy': {description: "automated or none; empty keeps the manifest's policy."}
    }
  },

  settings(input, env, platform) {
    const delivery = readDelivery(
      input,
      env,
      {
        defaultMode: 'push',
        local: true,
        checkMessage: messageTemplateCheck('argo-app', IMAGE_PLACEHOLDERS)
      },
      process.cwd()
    )
    if (delivery.mode === 'local') delivery.root = resolve(delivery.root)
    const configRepo = input.string('repo')?.trim() || undefined
    const app = readAppSettings(input, platform, () => {
      const given = input.string('source-repo')?.trim()
      if (given) return given
      if (!configRepo) {
        throw new UsageError(
          '--source-repo is required without --repo: pass the URL Argo CD clones the manifests from, e.g. --source-repo https://github.com/org/deploy.git'
        )
      }
      if (!/^(https?|ssh|git):\/\/|^[\w.-]+@[\w.-]+:/.test(configRepo)) {
        throw new UsageError(
          `--repo ${configRepo} is not a URL Argo CD can clone, so it cannot be the Application's repoURL; pass --source-repo <url>`
        )
      }
      return configRepo
    })
    const rawManifest =
      input.string('manifest')?.trim() || `${DEFAULT_MANIFEST_DIR}/${app.name}.yaml`
    const manifest = checkRelative(rawManifest, '--manifest')
    if (!/\.ya?ml$/.test(manifest)) {
      throw new UsageError(
        `--manifest ${JSON.stringify(rawManifest)} must end in .yaml or .yml (what a parent app's directory source reads); e.g. ${DEFAULT_MANIFEST_DIR}/${app.name}.yaml`
      )
    }
    const finalizers: string[] = []
    for (const f of input.list('finalizer').flatMap(v => v.split(/[,\n]/))) {
      const name = f.trim()
      if (!name) continue
      if (!FINALIZER.test(name) || name.length > 253) {
        throw new UsageError(
          `--finalizer '${name}' is not a finalizer name; e.g. --finalizer resources-finalizer.argocd.argoproj.io`
        )
      }
      if (!finalizers.includes(name)) finalizers.push(name)
    }
    return {
      request: {app, finalizers},
      manifest,
      delivery
    }
  },

  async run(s, platform) {
    const d = await deliver(argoAppEdit(s.manifest, s.request), s.delivery, platform)
    return {
      outcome: d.outcome,
      dryRun: d.dryRun,
      ...(d.remote ? {remote: d.remote} : {}),
      ...(d.pr ? {pr: d.pr} : {}),
      delivery: d
    }
  },

  outputs(r) {
    const l = r.pr
    return {
      changed: String(r.outcome.changed),
      operation: r.outcome.operation,
      manifest: r.outcome.manifest,
      commit: r.remote?.commit ?? (l && l.operation !== 'no-op' ? l.commit : ''),
      pushed: String(r.remote?.pushed ?? (l && l.operation !== 'no-op' ? l.pushed : false)),
      attempts: r.remote ? String(r.remote.attempts) : '',
      branch: r.remote?.branch ?? l?.branch ?? '',
      'pr-number': '',
      'pr-url': '',
      'pr-operation': '',
      transport: '',
      verified: '',
      ...checkOutputs(r.delivery?.checks),
      ...(l ? prLifecycleOutputs(l) : {}),
      ...(r.remote?.transport
        ? {
            transport: r.remote.transport,
            verified: r.remote.verified === undefined ? '' : String(r.remote.verified)
          }
        : {})
    }
  },

  json: r => ({
    changed: r.outcome.changed,
    operation: r.outcome.operation,
    manifest: r.outcome.manifest,
    app: r.outcome.app,
    changes: r.outcome.changes,
    diff: r.outcome.diff,
    dryRun: r.dryRun,
    ...remoteJson(r.remote),
    ...(r.pr ? prLifecycleJson(r.pr) : {})
  }),

  summary(r) {
    const o = r.outcome
    const lines = [
      `### argo-app: ${o.app} ${r.dryRun && o.changed ? `would be ${o.operation}` : o.operation}`,
      ''
    ]
    lines.push(`**Manifest:** \`${o.manifest}\``, '')
    if (o.changes.length) {
      lines.push('Fields changed:', '')
      for (const c of o.changes) lines.push(`- \`${formatChange(c).replace(/`/g, "'")}\``)
      lines.push('')
    }
    if (o.diff) lines.push(fence(o.diff), '')
    if (r.dryRun && o.changed) lines.push('Dry run: nothing was written.', '')
    if (r.pr) lines.push(prLifecycleText(r.pr), '')
    return lines.join('\n') + (r.remote ? remoteSummary(r.remote) : '')
  },

  text(r) {
    const lines = [headline(r), ...r.outcome.changes.map(c => `  ${formatChange(c)}`)]
    return editText(lines, {
      ...r,
      changed: r.outcome.changed,
      diff: r.outcome.diff
    })
  },

  exitCode: r => deliveryExitCode(r)
})
