import {OperationError} from '../core/errors.js'
import {defineCommand} from './types.js'

// Placeholder until the command lands; it fails loudly rather than pretending.
export const changesCommand = defineCommand<void, never>({
  name: 'changes',
  description: 'Decide whether the image must be built, and which already-built tag to deploy',
  options: [],
  outputSpecs: [],
  settings: () => undefined,
  run: async () => {
    throw new OperationError('changes is not built yet')
  },
  outputs: () => ({}),
  json: () => ({}),
  summary: () => '',
  text: () => ''
})
