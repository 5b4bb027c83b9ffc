import * as core from '@actions/core'
import {errorLine, errorMessage} from '../../core/errors.js'
import {Redactor} from '../../core/redact.js'
import type {Platform} from '../../platform/port.js'
import type {InputReader, Outputs} from '../../platform/inputs.js'
import type {CommandDefinition} from '../../commands/types.js'
import {commands, findCommand} from '../../commands/registry.js'
import {nameInputs} from '../input-names.js'
import {exitCleanlyOnSignals} from '../interrupt.js'
import type {GithubEvent, GithubRun} from '../../changes/ci-context.js'

/** Action inputs that become environment variables, so tokens never sit in settings or argv. */
export const TOKEN_INPUTS: Record<string, string> = {
  token: 'GITOPS_TOKEN',
  'argocd-token': 'ARGOCD_AUTH_TOKEN',
  // The application repository's token, for --github-deployment (default: the workflow's github.token).
  'github-token': 'GITHUB_TOKEN'
}

function actionPlatform(redactor: Redactor): Platform {
  // The token input and its GITOPS_TOKEN copy are one value: one ::add-mask:: line.
  const masked = new Set<string>()
  return {
    redactor,
    info: m => core.info(redactor.redact(m)),
    warning: m => core.warning(redactor.redact(m)),
    debug: m => core.debug(redactor.redact(m)),
    setSecret: v => {
      if (!v || masked.has(v)) return
      masked.add(v)
      redactor.add(v)
      core.setSecret(v)
    },
    group: (name, fn) => core.group(name, fn)
  }
}

const reader: InputReader = {
  string: n => core.getInput(n) || undefined,
  list: n => core.getMultilineInput(n),
  boolean: n => (core.getInput(n) ? core.getBooleanInput(n) : undefined)
}

export async function run(): Promise<void> {
  const redactor = new Redactor()
  const platform = actionPlatform(redactor)
  exitCleanlyOnSignals(message => core.setFailed(redactor.redact(message)))
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let def: CommandDefinition<any, any> | undefined
  try {
    for (const [input, variable] of Object.entries(TOKEN_INPUTS)) {
      const value = core.getInput(input)
      if (value) {
        platform.setSecret(value)
        process.env[variable] = value
      }
    }
    for (const v of ['GITOPS_TOKEN', 'ARGOCD_AUTH_TOKEN', 'GITHUB_TOKEN']) {
      if (process.env[v]) platform.setSecret(process.env[v]!)
    }
    const name = core.getInput('command') || 'set-image'
    def = findCommand(name)
    if (!def) {
      throw new Error(
        `unknown command '${name}'; set the 'command' input to one of: ${commands.map(c => c.name).join(', ')}`
      )
    }
    const settings = def.settings(reader, process.env, platform, await githubRun(platform))
    const result = await def.run(settings, platform)
    const outputs = def.outputs(result)
    for (const [k, v] of Object.entries(outputs)) core.setOutput(k, redactor.redact(v))
    report(name, def.text(result), outputs, redactor)
    const summary = def.summary(result)
    if (summary && process.env.GITHUB_STEP_SUMMARY) {
      await core.summary.addRaw(redactor.redact(summary), true).write()
    }
    const code = def.exitCode?.(result) ?? 0
    if (code !== 0) {
      const first = def.text(result).split('\n')[0] || `${name} failed`
      core.setFailed(errorLine(nameInputs(redactor.redact(first), def.options)))
    }
  } catch (e) {
    const message = redactor.redact(errorMessage(e))
    // The runner prints `Error: `; the message names inputs (`path`), not CLI flags.
    core.setFailed(errorLine(def ? nameInputs(message, def.options) : message))
  }
}

/**
 * What the step did, readable without debug logging: the command's report (files and images
 * changed, the commit or pull request, transport and attempts; the diff on dry-run) in a
 * collapsible group, then one line of the outputs later steps read.
 */
function report(name: string, text: string, outputs: Outputs, redactor: Redactor): void {
  core.startGroup(`gitops-deploy ${name}`)
  for (const line of text.replace(/\n+$/, '').split('\n')) core.info(redactor.redact(line))
  core.endGroup()
  const shown = Object.entries(outputs)
    // JSON lists (edits, files, promoted) are in the report above and in the outputs themselves.
    .filter(([, v]) => v !== '' && !/^[[{]/.test(v) && !v.includes('\n') && v.length <= 200)
    .map(([k, v]) => `${k}=${v}`)
  if (shown.length > 0) core.info(redactor.redact(`outputs: ${shown.join(' ')}`))
}

/**
 * The event (name, payload, sha, ref, repo) from `@actions/github`'s context, for commands that
 * judge the run (`changes`). Imported here rather than at module load: the CLI shares this bundle,
 * and the Context constructor reads GITHUB_EVENT_PATH and throws on a malformed payload.
 */
async function githubRun(platform: Platform): Promise<GithubRun | undefined> {
  try {
    const {context} = await import('@actions/github')
    let repo: GithubRun['repo']
    try {
      repo = context.repo
    } catch {
      repo = undefined // neither GITHUB_REPOSITORY nor a payload repository: not needed to decide
    }
    // The context's payload is {} when the file is missing: no payload, so `changes` fails open.
    const payload =
      Object.keys(context.payload).length > 0 ? (context.payload as GithubEvent) : undefined
    return {
      name: context.eventName,
      payload,
      sha: context.sha,
      ref: context.ref,
      ...(repo ? {repo} : {})
    }
  } catch (e) {
    platform.warning(`could not read the event payload (GITHUB_EVENT_PATH): ${errorMessage(e)}`)
    return undefined
  }
}
