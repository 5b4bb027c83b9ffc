import {OperationError} from '../core/errors.js'
import {defineCommand} from './types.js'

// Placeholder until the command lands; it fails loudly rather than pretending.
export const setImageCommand = defineCommand<void, never>({
  name: 'set-image',
  description: 'Set image tags and YAML values in a config repo (kustomize edit set image semantics, byte-preserving)',
  options: [],
  outputSpecs: [],
  settings: () => undefined,
  run: async () => {
    throw new OperationError('set-image is not built yet')
  },
  outputs: () => ({}),
  json: () => ({}),
  summary: () => '',
  text: () => ''
})
