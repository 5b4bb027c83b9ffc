import {OperationError} from '../core/errors.js'
import {defineCommand} from './types.js'

// Placeholder until the command lands; it fails loudly rather than pretending.
export const argoUpsertCommand = defineCommand<void, never>({
  name: 'argo-upsert',
  description: 'Create or update an Argo CD Application over its REST API, optionally sync and wait',
  options: [],
  outputSpecs: [],
  settings: () => undefined,
  run: async () => {
    throw new OperationError('argo-upsert is not built yet')
  },
  outputs: () => ({}),
  json: () => ({}),
  summary: () => '',
  text: () => ''
})
