import type {CommandDefinition} from './types.js'
import {setImageCommand} from './set-image.js'
import {promoteCommand} from './promote.js'
import {argoUpsertCommand} from './argo-upsert.js'
import {changesCommand} from './changes.js'
import {argoAppCommand} from './argo-app.js'
import {setChartVersionCommand} from './set-chart-version.js'
import {waitCommand} from './wait.js'
import {rollbackCommand} from './rollback.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandDefinition<any, any>[] = [
  setImageCommand,
  promoteCommand,
  argoUpsertCommand,
  changesCommand,
  argoAppCommand,
  setChartVersionCommand,
  waitCommand,
  rollbackCommand
]

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function findCommand(name: string): CommandDefinition<any, any> | undefined {
  return commands.find(c => c.name === name)
}
