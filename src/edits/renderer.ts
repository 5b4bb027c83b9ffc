/**
 * The local kustomize renderer: `kubectl kustomize`, or `kustomize build`
 * when only that is installed. Used by the render check before a push and by
 * promote's rendered diff.
 */
import {execFile} from 'node:child_process'
import {createHash} from 'node:crypto'
import {isMap, isScalar, parseDocument} from 'yaml'
import {errorMessage} from '../core/errors.js'

export type RenderResult =
  | {kind: 'rendered'; yaml: string}
  | {kind: 'failed'; message: string}
  | {kind: 'unavailable'; message: string}

export interface Renderer {
  /** Renders the kustomization in `dir` (absolute). */
  render(dir: string): Promise<RenderResult>
}

export interface KubectlOptions {
  /** The kubectl binary; `kubectl` from PATH by default. */
  kubectl?: string
  /** The standalone kustomize binary, tried when kubectl is missing; `kustomize` from PATH by default. */
  kustomize?: string
  timeoutMs?: number
}

/** The renderer that ran, for the report: `kubectl kustomize` or `kustomize build`. */
export interface NamedRenderer extends Renderer {
  /** Undefined until a render ran or when neither tool exists. */
  tool(): string | undefined
}

type Tool = {label: string; bin: string; args: (dir: string) => string[]}

function run(tool: Tool, dir: string, timeoutMs: number): Promise<RenderResult | 'missing'> {
  return new Promise(resolve => {
    execFile(
      tool.bin,
      tool.args(dir),
      {
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        // A remote base would make kustomize run git; it must fail fast, never prompt.
        env: {...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'echo', SSH_ASKPASS: 'echo'}
      },
      (error, stdout, stderr) => {
        if (!error) return resolve({kind: 'rendered', yaml: maskSecrets(stdout)})
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return resolve('missing')
        const detail = (stderr || errorMessage(error)).trim().split('\n').slice(-3).join(' | ')
        resolve({kind: 'failed', message: detail.replaceAll(dir, '.')})
      }
    )
  })
}

/**
 * `kubectl kustomize` as the renderer: it is what Argo CD's kustomize build
 * does, and kubectl is on most CI images; `kustomize build` when only the
 * standalone binary is there. Neither: `unavailable` (the caller decides
 * whether that is a note or an error).
 */
export function kubectlRenderer(options: KubectlOptions = {}): NamedRenderer {
  const tools: Tool[] = [
    {label: 'kubectl kustomize', bin: options.kubectl ?? 'kubectl', args: d => ['kustomize', d]},
    {label: 'kustomize build', bin: options.kustomize ?? 'kustomize', args: d => ['build', d]}
  ]
  let index = 0
  let used: string | undefined
  const missing =
    'kubectl was not found on PATH (nor kustomize); install kubectl (it bundles kustomize) on the runner'
  return {
    tool: () => used,
    async render(dir) {
      while (index < tools.length) {
        const tool = tools[index]
        const result = await run(tool, dir, options.timeoutMs ?? 60_000)
        if (result !== 'missing') {
          used = tool.label
          return result
        }
        // Only the first caller to see a tool missing moves on; parallel renders share the index.
        if (tools[index] === tool) index++
      }
      return {kind: 'unavailable', message: missing}
    }
  }
}

/**
 * Secret values must not reach a PR description, even base64-encoded. Each
 * value becomes a short hash, so a changed secret still shows as a change.
 * Only Secret documents are re-serialised; everything else stays as rendered.
 */
export function maskSecrets(rendered: string): string {
  if (!/^kind: Secret$/m.test(rendered)) return rendered
  return rendered
    .split(/^---\n/m)
    .map(chunk => {
      if (!/^kind: Secret$/m.test(chunk)) return chunk
      const doc = parseDocument(chunk)
      for (const field of ['data', 'stringData']) {
        const map = doc.get(field, true)
        if (!isMap(map)) continue
        for (const pair of map.items) {
          if (!isScalar(pair.value)) continue
          const value = String(pair.value.value ?? '')
          const hash = createHash('sha256').update(value).digest('hex').slice(0, 12)
          pair.value.value = `redacted sha256:${hash} (${value.length} chars)`
        }
      }
      return doc.toString({lineWidth: 0})
    })
    .join('---\n')
}
