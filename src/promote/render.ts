import {execFile} from 'node:child_process'
import {createHash} from 'node:crypto'
import {join} from 'node:path'
import {isMap, isScalar, parseDocument} from 'yaml'
import {lineDiff} from '../core/diff.js'
import {errorMessage} from '../core/errors.js'
import type {RenderedDiff} from './pr-body.js'

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
  timeoutMs?: number
}

/**
 * `kubectl kustomize` as the renderer: it is what Argo CD's kustomize build
 * does, and kubectl is on most CI images. A missing binary is a note in the
 * PR, not a failure: the promotion itself does not depend on rendering.
 */
export function kubectlRenderer(options: KubectlOptions = {}): Renderer {
  const bin = options.kubectl ?? 'kubectl'
  let missing: string | undefined
  return {
    async render(dir) {
      if (missing) return {kind: 'unavailable', message: missing}
      return new Promise(resolve => {
        execFile(
          bin,
          ['kustomize', dir],
          {
            timeout: options.timeoutMs ?? 60_000,
            maxBuffer: 64 * 1024 * 1024,
            // A remote base would make kustomize run git; it must fail fast, never prompt.
            env: {
              ...process.env,
              GIT_TERMINAL_PROMPT: '0',
              GIT_ASKPASS: 'echo',
              SSH_ASKPASS: 'echo'
            }
          },
          (error, stdout, stderr) => {
            if (!error) return resolve({kind: 'rendered', yaml: maskSecrets(stdout)})
            if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
              missing = `kubectl was not found on PATH, so the rendered diff is not shown; install kubectl (it bundles kustomize) on the runner to get it`
              return resolve({kind: 'unavailable', message: missing})
            }
            const detail = (stderr || errorMessage(error)).trim().split('\n').slice(-3).join(' | ')
            resolve({kind: 'failed', message: detail.replaceAll(dir, '.')})
          }
        )
      })
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

export interface AppRender {
  app: string
  /** The target directory, relative to the repo root. */
  dir: string
  before: RenderResult
  after?: RenderResult
}

/** Renders every `dirs` entry under `root`, one at a time (kustomize is CPU-bound; runners are small). */
export async function renderAll(
  renderer: Renderer,
  root: string,
  targets: readonly {app: string; dir: string}[]
): Promise<Map<string, RenderResult>> {
  const out = new Map<string, RenderResult>()
  for (const t of targets) out.set(t.app, await renderer.render(join(root, t.dir)))
  return out
}

/**
 * Renders the target overlays before an edit, then (via the returned
 * function) after it, and diffs the two. A render failure on either side
 * becomes a note for that app; `unavailable` becomes one note for all.
 */
export async function renderAround(
  renderer: Renderer,
  root: string,
  targets: readonly {app: string; dir: string}[]
): Promise<() => Promise<{diffs: RenderedDiff[]; note?: string}>> {
  const before = await renderAll(renderer, root, targets)
  return async () => {
    const after = await renderAll(renderer, root, targets)
    const diffs: RenderedDiff[] = []
    for (const t of targets) {
      const b = before.get(t.app)!
      const a = after.get(t.app)!
      if (b.kind === 'unavailable') return {diffs: [], note: b.message}
      if (b.kind === 'failed' || a.kind !== 'rendered') {
        const failed = b.kind === 'failed' ? b : (a as {message: string})
        diffs.push({
          app: t.app,
          dir: t.dir,
          kind: 'note',
          message: `kubectl kustomize failed${b.kind === 'failed' ? '' : ' after the change'} (${failed.message}); the pins were promoted anyway — check the overlay renders`
        })
        continue
      }
      const d = lineDiff(b.yaml, a.yaml, {
        fromLabel: `${t.dir} (base)`,
        toLabel: `${t.dir} (this change)`
      })
      if (d.text === '') diffs.push({app: t.app, dir: t.dir, kind: 'same'})
      else
        diffs.push({
          app: t.app,
          dir: t.dir,
          kind: 'diff',
          text: d.text,
          added: d.added,
          removed: d.removed
        })
    }
    return {diffs}
  }
}
