import {OperationError} from '../core/errors.js'
import {defineCommand} from './types.js'

// Placeholder until the command lands; it fails loudly rather than pretending.
export const promoteCommand = defineCommand<void, never>({
  name: 'promote',
  description: 'Copy image pins from one environment to the next, as a commit or a pull request',
  options: [],
  outputSpecs: [],
  settings: () => undefined,
  run: async () => {
    throw new OperationError('promote is not built yet')
  },
  outputs: () => ({}),
  json: () => ({}),
  summary: () => '',
  text: () => ''
})
