import {UsageError} from '../core/errors.js'
import type {AppSettings} from '../argocd/application.js'
import {formatChange} from '../argocd/application.js'
import {deploy, type DeployResult, type DeploySettings} from '../argocd/deploy.js'
import {formatResource, type ResourceLine} from '../argocd/health.js'
import type {EnvEntry} from '../argocd/types.js'
import type {Platform} from '../platform/port.js'
import {defineCommand, type InputReader, type OptionSpec} from './types.js'
import {parseAcceptHealth, parseDuration, readArgoConnection} from './argocd-connection.js'

export {MAX_TIMER_MS, parseAcceptHealth, parseDuration} from './argocd-connection.js'

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const DNS_LABELISH = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/

function pair(raw: string, flag: string, example: string): [string, string] {
  const i = raw.indexOf('=')
  if (i <= 0)
    throw new UsageError(`--${flag} '${raw}' is not KEY=VALUE; write it like --${flag} ${example}`)
  return [raw.slice(0, i).trim(), raw.slice(i + 1)]
}

function required(input: InputReader, name: string, hint: string): string {
  const v = input.string(name)?.trim()
  if (!v) throw new UsageError(`--${name} is required; ${hint}`)
  return v
}

/** `--sync-option A=true,B=true` is one option per comma: the API compares options as exact strings. */
export function parseSyncOptions(raw: string[]): string[] {
  const out: string[] = []
  for (const item of raw.flatMap(r => r.split(/[,\n]/))) {
    const opt = item.trim()
    if (!opt) continue
    if (!/^[A-Za-z][A-Za-z0-9]*=\S+$/.test(opt)) {
      throw new UsageError(
        `--sync-option '${opt}' is not Name=value; write e.g. --sync-option ServerSideApply=true`
      )
    }
    if (!out.includes(opt)) out.push(opt)
  }
  return out
}

export function parsePluginEnv(raw: string[], warn: (m: string) => void): EnvEntry[] {
  const env: EnvEntry[] = []
  for (const item of raw) {
    let [name, value] = pair(item, 'plugin-env', 'IMAGE_TAG=1.4.2')
    if (name.startsWith('ARGOCD_ENV_')) {
      // The repo-server adds the prefix itself; sending it would give the plugin ARGOCD_ENV_ARGOCD_ENV_X.
      warn(
        `--plugin-env ${name}: the plugin sees ARGOCD_ENV_<NAME> already; sending ${name.slice(11)}`
      )
      name = name.slice(11)
    }
    if (!ENV_NAME.test(name)) {
      throw new UsageError(
        `--plugin-env name '${name}' is not a valid variable name; use letters, digits and _`
      )
    }
    if (/\$/.test(value.replace(/\$\$/g, ''))) {
      warn(
        `--plugin-env ${name}: the repo-server expands $VARS in values; write $$ for a literal $`
      )
    }
    const at = env.findIndex(e => e.name === name)
    if (at >= 0) env[at] = {name, value}
    else env.push({name, value})
  }
  return env
}

function mapPairs(raw: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const item of raw) {
    const [k, v] = pair(item, flag, 'team=payments')
    out[k] = v
  }
  return out
}

/** `key=value` sets, `key-` removes (as kubectl label does). */
function mapPairsWithRemovals(
  raw: string[],
  flag: string
): {set: Record<string, string>; remove: string[]} {
  const remove: string[] = []
  const sets: string[] = []
  for (const item of raw) {
    if (!item.includes('=') && /^[^=\s]+-$/.test(item.trim())) remove.push(item.trim().slice(0, -1))
    else sets.push(item)
  }
  const set = mapPairs(sets, flag)
  const both = remove.find(k => k in set)
  if (both) {
    throw new UsageError(
      `--${flag} sets and removes '${both}'; give one of '${both}=...' and '${both}-'`
    )
  }
  return {set, remove}
}

/*
 * GitLab input regexes (RE2, checked at pipeline creation). Values may hold
 * CI/CD variable references ($CI_ENVIRONMENT_SLUG, ${CLUSTER}), which the
 * runner expands later, so each pattern lets them through.
 */
const VAR = String.raw`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`
/** A lower-case DNS name (Application, project, namespace), or variables that become one. */
const DNS_NAME_REGEX = `^([a-z0-9]|${VAR})([a-z0-9.-]|${VAR})*$`
/** The same pattern, or empty (`^(a|b)$` becomes `^(a|b)?$`, not `^((a|b))?$`). */
export function optionalRegex(regex: string): string {
  const body = regex.slice(1, -1)
  return oneGroup(body) ? `^${body}?$` : `^(${body})?$`
}

/** Whether the pattern is one parenthesised group from its first to its last character. */
function oneGroup(pattern: string): boolean {
  if (!pattern.startsWith('(')) return false
  let depth = 0
  let inClass = false
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '\\') i++
    else if (inClass) inClass = c !== ']'
    else if (c === '[') inClass = true
    else if (c === '(') depth++
    else if (c === ')' && --depth === 0) return i === pattern.length - 1
  }
  return false
}
const optional = optionalRegex
const SERVER_REGEX = String.raw`^(https?://\S+|\$\{?[A-Za-z_]\S*)$`
/** Argo CD reads the repo itself: no file:// or local path. */
export const SOURCE_REPO_REGEX = String.raw`^(https?://|ssh://|[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:|\$\{?[A-Za-z_])\S*$`

/**
 * The Application's fields, shared with `argo-app` (which writes the same
 * Application as a manifest); readAppSettings parses them.
 */
export const APPLICATION_OPTIONS: OptionSpec[] = [
  {
    name: 'app',
    type: 'string',
    description: 'Application name',
    gitlab: {
      required: true,
      regex: DNS_NAME_REGEX,
      description:
        'Application name (lower-case DNS name; CI/CD variables allowed, e.g. web-$CI_ENVIRONMENT_SLUG).'
    }
  },
  {
    name: 'app-namespace',
    type: 'string',
    description: "Application's namespace (apps in any namespace); default: the server's own",
    gitlab: {
      regex: optional(DNS_NAME_REGEX),
      description:
        "Namespace of the Application (apps in any namespace); empty means the server's own."
    }
  },
  {
    name: 'project',
    type: 'string',
    description: 'Argo CD project of the app',
    gitlab: {required: true, regex: DNS_NAME_REGEX, description: 'Argo CD project of the app.'}
  },
  {
    name: 'repo',
    type: 'string',
    description: 'Repository URL with the manifests (the config repo)',
    gitlab: {
      required: true,
      regex: SOURCE_REPO_REGEX,
      description: 'Repository URL with the manifests (the config repo), as Argo CD knows it.'
    }
  },
  {
    name: 'path',
    type: 'string',
    description: 'Directory of the manifests inside --repo',
    gitlab: {
      required: true,
      regex: String.raw`^[^\s]+$`,
      description: 'Directory of the manifests inside repo, e.g. apps/web/overlays/dev.'
    }
  },
  {
    name: 'revision',
    type: 'string',
    description: 'Revision to deploy: a commit SHA (checked on --wait), tag or branch',
    gitlab: {
      required: true,
      regex: String.raw`^\S+$`,
      description:
        'Revision to deploy: a commit SHA (checked when wait is on), tag or branch. After a set-image job, use $GITOPS_COMMIT.'
    }
  },
  {
    name: 'dest-server',
    type: 'string',
    description: 'Destination cluster API URL (or --dest-name)',
    gitlab: {
      regex: optional(SERVER_REGEX),
      description:
        'Destination cluster API URL, e.g. https://kubernetes.default.svc. Give dest-server or dest-name.'
    }
  },
  {
    name: 'dest-name',
    type: 'string',
    description: 'Destination cluster name (or --dest-server)',
    gitlab: {
      regex: optional(DNS_NAME_REGEX),
      description: 'Destination cluster name as registered in Argo CD.'
    }
  },
  {
    name: 'dest-namespace',
    type: 'string',
    description: 'Destination namespace',
    gitlab: {required: true, regex: DNS_NAME_REGEX, description: 'Destination namespace.'}
  },
  {
    name: 'plugin',
    type: 'string',
    description: 'Config management plugin name (the ConfigManagementPlugin metadata.name)',
    gitlab: {
      description:
        'Config management plugin name (the ConfigManagementPlugin metadata.name); empty means none.'
    }
  },
  {
    name: 'plugin-env',
    type: 'list',
    description: 'Plugin env NAME=value, unprefixed (the plugin sees ARGOCD_ENV_NAME)',
    gitlab: {
      description: 'Plugin env entries NAME=value, unprefixed (the plugin sees ARGOCD_ENV_NAME).'
    }
  },
  {
    name: 'kustomize-image',
    type: 'list',
    description: 'Kustomize image override, e.g. app=registry/app:1.2',
    gitlab: {description: 'Kustomize image overrides, e.g. app=registry/app:1.2.'}
  },
  {
    name: 'helm-param',
    type: 'list',
    description: 'Helm parameter name=value',
    gitlab: {description: 'Helm parameters name=value.'}
  },
  {
    name: 'helm-values-file',
    type: 'list',
    description: 'Helm values file inside --path',
    gitlab: {description: 'Helm values files inside path.'}
  },
  {
    name: 'sync-policy',
    type: 'string',
    description: "automated or none; omitted keeps the live app's policy",
    choices: ['automated', 'none'],
    gitlab: {description: "automated or none; empty keeps the live app's policy."}
  },
  {
    name: 'auto-prune',
    type: 'boolean',
    description: 'With --sync-policy automated: delete resources removed from git',
    gitlab: {description: 'With sync-policy automated, delete resources removed from git.'}
  },
  {
    name: 'self-heal',
    type: 'boolean',
    description: 'With --sync-policy automated: revert drift in the cluster',
    gitlab: {description: 'With sync-policy automated, revert drift in the cluster.'}
  },
  {
    name: 'sync-option',
    type: 'list',
    description:
      'Sync option Name=value; commas split, e.g. ServerSideApply=true,ApplyOutOfSyncOnly=true',
    gitlab: {description: 'Sync options Name=value, e.g. ServerSideApply=true.'}
  },
  {
    name: 'label',
    type: 'list',
    description: 'Label key=value to set on the Application (others are kept)',
    gitlab: {description: 'Labels key=value to set on the Application (others are kept).'}
  },
  {
    name: 'annotation',
    type: 'list',
    description: 'Annotation key=value to set on the Application (others are kept)',
    gitlab: {description: 'Annotations key=value to set on the Application (others are kept).'}
  }
]

/**
 * The Application fields shared by argo-upsert and argo-app. `repo` is the
 * source repoURL; argo-app takes it from another flag than argo-upsert.
 */
export function readAppSettings(
  input: InputReader,
  platform: Platform,
  readRepo: () => string,
  /** `--label key-` removes a key; only argo-upsert can (through PUT). */
  opts: {removals?: boolean} = {}
): AppSettings {
  const name = required(input, 'app', 'name the Argo CD Application, e.g. --app web-dev')
  if (!DNS_LABELISH.test(name) || name.length > 253) {
    throw new UsageError(
      `--app '${name}' is not a valid Application name; use lower-case letters, digits, '-' and '.'`
    )
  }
  const namespace = input.string('app-namespace')?.trim() || undefined
  const project = required(input, 'project', 'name the Argo CD project, e.g. --project default')
  // Read in the flags' order, so the first missing flag is the one reported.
  const repo = readRepo()
  const path = required(
    input,
    'path',
    'pass the manifests directory inside --repo, e.g. --path overlays/dev'
  )
  const revision = required(
    input,
    'revision',
    'pass a commit SHA, tag or branch, e.g. --revision $CI_COMMIT_SHA'
  )
  const destServer = input.string('dest-server')?.trim()
  const destName = input.string('dest-name')?.trim()
  if (!!destServer === !!destName) {
    throw new UsageError(
      'give exactly one of --dest-server and --dest-name; e.g. --dest-server https://kubernetes.default.svc or --dest-name prod-eu'
    )
  }
  const destNamespace = required(
    input,
    'dest-namespace',
    'pass the target namespace, e.g. --dest-namespace web'
  )

  const warn = (m: string) => platform.warning(m)
  const pluginName = input.string('plugin')?.trim()
  const pluginEnv = parsePluginEnv(input.list('plugin-env'), warn)
  const kustomizeImages = input
    .list('kustomize-image')
    .map(s => s.trim())
    .filter(Boolean)
  const helmParams = input.list('helm-param').map(p => {
    const [k, v] = pair(p, 'helm-param', 'image.tag=1.4.2')
    return {name: k, value: v}
  })
  const helmValuesFiles = input
    .list('helm-values-file')
    .map(s => s.trim())
    .filter(Boolean)
  if (pluginEnv.length && !pluginName) {
    throw new UsageError(
      '--plugin-env needs --plugin <name>: the name of the ConfigManagementPlugin (e.g. argocd-vault-plugin-kustomize)'
    )
  }
  const tools = [
    pluginName ? 'Plugin (--plugin)' : '',
    kustomizeImages.length ? 'Kustomize (--kustomize-image)' : '',
    helmParams.length || helmValuesFiles.length ? 'Helm (--helm-param/--helm-values-file)' : ''
  ].filter(Boolean)
  if (tools.length > 1) {
    throw new UsageError(
      `an app source can use one tool, but these were given: ${tools.join(', ')}; with a plugin pass the image as ` +
        '--plugin-env IMAGE_NAME=... --plugin-env IMAGE_TAG=... instead (Argo CD rejects "multiple application sources defined")'
    )
  }

  const policy = input.string('sync-policy')?.trim()
  if (policy !== undefined && policy !== 'automated' && policy !== 'none') {
    throw new UsageError(`--sync-policy '${policy}' is not known; use automated or none`)
  }
  const autoPrune = input.boolean('auto-prune') === true
  const selfHeal = input.boolean('self-heal') === true
  if ((autoPrune || selfHeal) && policy !== 'automated') {
    throw new UsageError(
      '--auto-prune and --self-heal apply to automated sync; add --sync-policy automated'
    )
  }
  const rawOptions = input.list('sync-option')
  const labels = opts.removals
    ? mapPairsWithRemovals(input.list('label'), 'label')
    : {set: mapPairs(input.list('label'), 'label'), remove: []}
  const annotations = opts.removals
    ? mapPairsWithRemovals(input.list('annotation'), 'annotation')
    : {set: mapPairs(input.list('annotation'), 'annotation'), remove: []}
  return {
    name,
    ...(namespace ? {namespace} : {}),
    project,
    repo,
    path,
    revision,
    destination: destServer
      ? {server: destServer, namespace: destNamespace}
      : {name: destName!, namespace: destNamespace},
    ...(pluginName ? {plugin: {name: pluginName, env: pluginEnv}} : {}),
    kustomizeImages,
    helmParams,
    helmValuesFiles,
    ...(policy ? {syncPolicy: policy as 'automated' | 'none'} : {}),
    autoPrune,
    selfHeal,
    ...(rawOptions.length ? {syncOptions: parseSyncOptions(rawOptions)} : {}),
    labels: labels.set,
    annotations: annotations.set,
    ...(labels.remove.length ? {removeLabels: labels.remove} : {}),
    ...(annotations.remove.length ? {removeAnnotations: annotations.remove} : {})
  }
}

export interface ArgoUpsertSettings {
  deploy: DeploySettings
}

export const argoUpsertCommand = defineCommand<ArgoUpsertSettings, DeployResult>({
  name: 'argo-upsert',
  description:
    'Create or update an Argo CD Application over its REST API, optionally sync and wait',
  options: [
    {
      name: 'server',
      type: 'string',
      description: 'Argo CD server URL, including any --rootpath',
      gitlab: {
        required: true,
        regex: SERVER_REGEX,
        description:
          'Argo CD server URL, including any --rootpath, e.g. https://argocd.example.com. No credentials in it.'
      }
    },
    ...APPLICATION_OPTIONS,
    {
      name: 'sync',
      type: 'boolean',
      description: 'Start a sync (or wait for the one already running)',
      // A pipeline deploys: the component syncs and waits unless told not to.
      gitlab: {default: true, description: 'Start a sync (or join the one already running).'}
    },
    {
      name: 'prune',
      type: 'boolean',
      description:
        'With --sync: delete resources removed from git (a manual sync keeps them otherwise)',
      gitlab: {
        description:
          'With sync, delete resources removed from git (a manual sync keeps them otherwise).'
      }
    },
    {
      name: 'validate',
      type: 'string',
      description:
        'true (default): Argo CD renders the manifests before writing and refuses what fails; false skips that',
      default: 'true',
      choices: ['true', 'false'],
      gitlab: {
        default: 'true',
        description:
          "'true': Argo CD renders the manifests before writing and refuses what fails; 'false' skips that."
      }
    },
    {
      name: 'replace-sources',
      type: 'boolean',
      description:
        'Replace a multi-source (spec.sources) or source-hydrator app with the single source of the flags',
      gitlab: {
        description:
          'Replace a multi-source or source-hydrator app with the single source of the inputs.'
      }
    },
    {
      name: 'wait',
      type: 'boolean',
      description: 'Wait until the app runs this spec and revision, Synced and Healthy',
      gitlab: {
        default: true,
        description:
          'Wait until the app runs this spec and revision, Synced and Healthy; the job fails otherwise.'
      }
    },
    {
      name: 'accept-health',
      type: 'list',
      description:
        'With --wait: health that counts as done besides Healthy: Suspended (paused rollout, suspended CronJob) or Degraded',
      gitlab: {
        description:
          'With wait, health that counts as done besides Healthy, e.g. [Suspended] for a paused rollout.'
      }
    },
    {
      name: 'rollback-on-failure',
      type: 'boolean',
      description:
        'With --wait: when the app does not become healthy, write back the spec it had before this run (synced with --sync), wait for that too; exit 1 either way',
      gitlab: {
        description:
          'With wait: when the app does not become healthy, restore its previous spec and wait for it; the job still fails.'
      }
    },
    {
      name: 'degraded-grace',
      type: 'string',
      description:
        'With --wait: how long a Degraded health may last before the wait fails (seconds, or 1m)',
      default: '10',
      gitlab: {
        type: 'number',
        description: 'With wait, seconds a Degraded health may last before the job fails.'
      }
    },
    {
      name: 'timeout',
      type: 'string',
      description: 'Hard limit in seconds for the whole run',
      default: '300',
      gitlab: {type: 'number', description: 'Hard limit in seconds for the whole run.'}
    },
    {
      name: 'request-timeout',
      type: 'string',
      description:
        "Limit in seconds for one API call; above the server's 60 s manifest-render limit by default",
      default: '90',
      gitlab: {
        type: 'number',
        description:
          "Limit in seconds for one API call; above the server's 60 s manifest-render limit."
      }
    },
    {
      name: 'insecure',
      type: 'boolean',
      description: 'Skip TLS certificate verification (test servers only)',
      gitlab: {description: 'Skip TLS certificate verification (test servers only).'}
    },
    {
      name: 'ca-file',
      type: 'string',
      description: 'PEM file with the CA that signed the Argo CD server certificate',
      gitlab: {
        description:
          'PEM file with the CA that signed the Argo CD server certificate; a file-type CI/CD variable works, e.g. $ARGOCD_CA.'
      }
    }
  ],
  outputSpecs: [
    {name: 'operation', description: 'What the upsert did: created, updated or unchanged'},
    {
      name: 'sync-status',
      description: 'Argo CD sync status at the end (Synced, OutOfSync, Unknown)'
    },
    {
      name: 'health-status',
      description: 'Argo CD health status at the end (Healthy, Progressing, Degraded, ...)'
    },
    {name: 'revision', description: 'Commit SHA Argo CD resolved and compared'},
    {name: 'url', description: 'The application in the Argo CD UI'},
    {
      name: 'rolled-back',
      description:
        "with --rollback-on-failure: 'true' when the previous spec was written back, 'false' when not (see the log), '' when the deploy was healthy"
    }
  ],
  gitlab: {
    description:
      'Create or update an Argo CD Application over its REST API, optionally sync it and wait until it is Synced and Healthy at the deployed revision; reports what is unhealthy. Outputs GITOPS_OPERATION, GITOPS_SYNC_STATUS, GITOPS_HEALTH_STATUS, ... as a dotenv report. Token: masked CI/CD variable ARGOCD_AUTH_TOKEN.'
  },

  settings(input, env, platform) {
    const connection = readArgoConnection(input, env, platform, 'server')
    const app = readAppSettings(
      input,
      platform,
      () =>
        required(
          input,
          'repo',
          'pass the config repo URL, e.g. --repo https://github.com/org/deploy.git'
        ),
      {removals: true}
    )
    const validateRaw = (input.string('validate') ?? 'true').trim().toLowerCase()
    if (validateRaw !== 'true' && validateRaw !== 'false') {
      throw new UsageError(
        `--validate '${input.string('validate')}' is not true or false; write --validate=false to skip the server's render check`
      )
    }
    const sync = input.boolean('sync') === true
    const prune = input.boolean('prune') === true
    if (prune && !sync) {
      throw new UsageError('--prune applies to the sync this run starts; add --sync')
    }
    const timeoutMs = parseDuration(input.string('timeout'), 'timeout', '300')
    const rollbackOnFailure = input.boolean('rollback-on-failure') === true
    if (rollbackOnFailure && input.boolean('wait') !== true) {
      throw new UsageError(
        '--rollback-on-failure only applies with --wait (it acts when the wait fails); add --wait'
      )
    }
    return {
      deploy: {
        server: connection.server,
        token: connection.token,
        insecure: connection.insecure,
        ...(connection.ca ? {ca: connection.ca} : {}),
        app,
        sync,
        ...(prune ? {prune} : {}),
        wait: input.boolean('wait') === true,
        timeoutMs,
        requestTimeoutMs: parseDuration(input.string('request-timeout'), 'request-timeout', '90'),
        validate: validateRaw === 'true',
        acceptHealth: parseAcceptHealth(input.list('accept-health')),
        degradedGraceMs: parseDuration(input.string('degraded-grace'), 'degraded-grace', '10', {
          allowZero: true
        }),
        replaceSources: input.boolean('replace-sources') === true,
        ...(rollbackOnFailure ? {rollbackOnFailure} : {}),
        // Tuning knobs for slow proxies and for tests; defaults suit real servers.
        pollMs: connection.pollMs,
        retryBaseMs: connection.retryBaseMs
      }
    }
  },

  run: (settings, platform) =>
    deploy(settings.deploy, {info: m => platform.info(m), debug: m => platform.debug(m)}),

  outputs: r => ({
    operation: r.operation,
    'sync-status': r.syncStatus,
    'health-status': r.healthStatus,
    revision: r.revision,
    url: r.url,
    'rolled-back': r.rollback ? String(r.rollback.kind === 'rolled-back') : ''
  }),

  json: r => ({
    operation: r.operation,
    syncStatus: r.syncStatus,
    healthStatus: r.healthStatus,
    revision: r.revision,
    url: r.url,
    app: r.name,
    project: r.project,
    changes: r.changes,
    ...(r.movedFromProject ? {movedFromProject: r.movedFromProject} : {}),
    sync: r.sync,
    wait: r.wait,
    ...(r.rollback ? {rollback: r.rollback} : {})
  }),

  summary: r => {
    const lines = [`### Argo CD: ${r.name} ${r.operation}`, '']
    const failed = failureLine(r)
    if (failed) lines.push(`**${escapeMd(failed)}**`, '')
    lines.push('| | |', '|---|---|')
    lines.push(`| Application | [${escapeMd(r.name)}](${r.url}) |`)
    lines.push(
      `| Project | ${escapeMd(r.project)}${r.movedFromProject ? ` (moved from ${escapeMd(r.movedFromProject)})` : ''} |`
    )
    lines.push(`| Operation | ${r.operation} |`)
    lines.push(`| Sync | ${syncText(r)} |`)
    lines.push(`| Status | ${r.syncStatus} / ${r.healthStatus} |`)
    lines.push(`| Revision | ${r.revision ? `\`${r.revision}\`` : '-'} |`)
    if (r.changes.length) {
      lines.push('', 'Fields this update overwrote:', '')
      for (const c of r.changes) lines.push(`- \`${formatChange(c).replace(/`/g, "'")}\``)
    }
    const resources = failedResources(r)
    if (resources.length) {
      lines.push('', 'Resources not healthy or not synced:', '')
      for (const res of resources) lines.push(`- ${escapeMd(formatResource(res))}`)
    }
    if (r.rollback) lines.push('', escapeMd(rollbackLine(r.rollback)))
    return lines.join('\n') + '\n'
  },

  text: r => {
    const lines: string[] = []
    const failed = failureLine(r)
    if (failed) lines.push(failed)
    lines.push(`application ${r.name} ${r.operation} (project ${r.project})`)
    for (const c of r.changes) lines.push(`  overwrote ${formatChange(c)}`)
    if (r.sync.kind !== 'not-requested') lines.push(`  sync: ${syncText(r)}`)
    lines.push(
      `  status: ${r.syncStatus} / ${r.healthStatus}${r.revision ? ` at ${r.revision}` : ''}`
    )
    const resources = failedResources(r)
    if (resources.length) {
      lines.push('  resources not healthy or not synced:')
      for (const res of resources) lines.push(`    ${formatResource(res)}`)
    }
    lines.push(`  ${r.url}`)
    if (r.rollback) lines.push(rollbackLine(r.rollback))
    return lines.join('\n') + '\n'
  },

  exitCode: r => (r.wait.kind === 'failed' || r.wait.kind === 'timeout' ? 1 : 0)
})

function rollbackLine(r: NonNullable<DeployResult['rollback']>): string {
  if (r.kind === 'not-rolled-back') return `rollback: not rolled back: ${r.reason}`
  const w = r.wait
  const state =
    w.kind === 'done' || w.kind === 'skipped'
      ? 'Synced and Healthy again'
      : w.kind === 'failed'
        ? `failed too: ${w.reason}`
        : `did not finish: ${w.reason}`
  return `rollback: previous spec (revision ${r.revision}) written back; ${state}`
}

function syncText(r: DeployResult): string {
  switch (r.sync.kind) {
    case 'not-requested':
      return 'not requested'
    case 'triggered':
      return 'started'
    case 'joined':
      return `joined the operation already running (${r.sync.phase})`
  }
}

function failureLine(r: DeployResult): string | undefined {
  if (r.wait.kind === 'failed') return `deploy of ${r.name} failed: ${r.wait.reason}`
  if (r.wait.kind === 'timeout') return `deploy of ${r.name} did not finish: ${r.wait.reason}`
  return undefined
}

function failedResources(r: DeployResult): ResourceLine[] {
  if (r.wait.kind === 'failed') return r.wait.resources
  if (r.wait.kind === 'timeout') return r.wait.progress?.pending ?? []
  return []
}

function escapeMd(s: string): string {
  return s.replace(/[|<>]/g, c => `\\${c}`)
}
