import * as core from '@actions/core'
import {errorMessage} from '../../core/errors.js'
import {Redactor} from '../../core/redact.js'
import type {Platform} from '../../platform/port.js'
import type {InputReader} from '../../platform/inputs.js'
import {commands, findCommand} from '../../commands/registry.js'

/** Action inputs that become environment variables, so tokens never sit in settings or argv. */
export const TOKEN_INPUTS: Record<string, string> = {
  token: 'GITOPS_TOKEN',
  'argocd-token': 'ARGOCD_AUTH_TOKEN'
}

function actionPlatform(redactor: Redactor): Platform {
  return {
    redactor,
    info: m => core.info(redactor.redact(m)),
    warning: m => core.warning(redactor.redact(m)),
    debug: m => core.debug(redactor.redact(m)),
    setSecret: v => {
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
  try {
    for (const [input, variable] of Object.entries(TOKEN_INPUTS)) {
      const value = core.getInput(input)
      if (value) {
        platform.setSecret(value)
        process.env[variable] = value
      }
    }
    for (const v of ['GITOPS_TOKEN', 'ARGOCD_AUTH_TOKEN']) {
      if (process.env[v]) platform.setSecret(process.env[v]!)
    }
    const name = core.getInput('command') || 'set-image'
    const def = findCommand(name)
    if (!def) {
      throw new Error(
        `unknown command '${name}'; set the 'command' input to one of: ${commands.map(c => c.name).join(', ')}`
      )
    }
    const settings = def.settings(reader, process.env, platform)
    const result = await def.run(settings, platform)
    for (const [k, v] of Object.entries(def.outputs(result))) core.setOutput(k, redactor.redact(v))
    const summary = def.summary(result)
    if (summary && process.env.GITHUB_STEP_SUMMARY) {
      await core.summary.addRaw(redactor.redact(summary), true).write()
    }
    const code = def.exitCode?.(result) ?? 0
    if (code !== 0)
      core.setFailed(redactor.redact(def.text(result).split('\n')[0] || `${name} failed`))
  } catch (e) {
    core.setFailed(redactor.redact(errorMessage(e)))
  }
}
