import {join} from 'node:path'
import {lineDiff} from '../core/diff.js'
import type {RenderedDiff} from './pr-body.js'
import type {Renderer, RenderResult} from '../edits/renderer.js'

export {kubectlRenderer, maskSecrets} from '../edits/renderer.js'
export type {Renderer, RenderResult, KubectlOptions} from '../edits/renderer.js'

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
