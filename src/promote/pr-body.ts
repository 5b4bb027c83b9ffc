import {BODY_LIMIT, fitLines, tableCell as cell, tableHead, tableRow} from '../core/markdown.js'
import {bodyMarker, type PrChange} from '../forge/pr-body.js'
import type {AppPromotion} from '../core/promotion/plan.js'
import {formatPin, type ImageOutcome} from '../core/promotion/pins.js'

/** What the rendered manifests of one target overlay do on merge. */
export type RenderedDiff =
  | {app: string; dir: string; kind: 'diff'; text: string; added: number; removed: number}
  /** Pins changed but the rendered output did not (e.g. an image no workload uses). */
  | {app: string; dir: string; kind: 'same'}
  | {app: string; dir: string; kind: 'note'; message: string}

export interface PromotionBodyInput {
  from: string
  to: string
  branch: string
  base: string
  apps: AppPromotion[]
  changes: PrChange[]
  diffs: RenderedDiff[]
  /** A note shown instead of the diffs (e.g. kubectl missing). */
  renderNote?: string
  /** The user's --body text, shown first. */
  intro?: string
  limit?: number
}

const TRUNCATED = (dir: string) =>
  `… rendered diff truncated to fit the ${BODY_LIMIT.toLocaleString('en-US')}-character limit of a PR description; run \`kubectl kustomize ${dir}\` on this branch and on the base to see all of it`

/**
 * The promotion PR description: what moves, what was left out and why, and
 * what the target environment will render differently. The rendered diff is
 * the part that grows without bound, so it alone is cut to fit the limit.
 */
export function renderPromotionBody(input: PromotionBodyInput): string {
  const limit = input.limit ?? BODY_LIMIT
  const head: string[] = []
  if (input.intro?.trim()) head.push(input.intro.trim(), '')
  const promoted = input.apps.filter(a => a.status === 'promoted')
  head.push(
    `Promotes **${md(input.from)} → ${md(input.to)}**: ${promoted.length} app${promoted.length === 1 ? '' : 's'} (${promoted.map(a => `\`${cell(a.app)}\``).join(', ')}).`,
    ''
  )
  const rows: string[] = []
  for (const a of promoted) {
    for (const i of a.images) {
      if (i.kind !== 'promoted') continue
      rows.push(
        tableRow([
          cell(a.app),
          `\`${cell(i.name)}\``,
          `\`${cell(formatPin(i.before))}\``,
          `\`${cell(formatPin(i.after))}\``
        ])
      )
    }
    for (const f of a.files) {
      if (f.kind === 'unchanged') continue
      rows.push(
        tableRow([
          cell(a.app),
          `\`${cell(f.to)}\``,
          f.kind === 'created' ? '(absent)' : 'differs',
          `copy of \`${cell(f.from)}\``
        ])
      )
    }
  }
  const table = tableHead(['App', 'Image / file', `${cell(input.to)} now`, 'After merge'])
  const left = leftOut(input)
  const footer = [
    '',
    `<sub>Opened by gitops-deploy promote. Merging deploys to ${md(input.to)}; re-running the same promotion updates this pull request.</sub>`,
    '',
    // A smaller marker budget than a set-image PR's: the rendered diff wants the room.
    bodyMarker(input, 20_000)
  ]
  const fixed = [...head, ...table, ...left, '### Rendered changes', ...footer].join('\n').length
  // Rows are never dropped silently: the note below says how many are in the commit only.
  const {kept, left: budget} = fitLines(rows, limit - fixed - 400)
  if (kept.length < rows.length) {
    kept.push(`| … | ${rows.length - kept.length} more changes | | see the commit |`)
  }
  const diffSection = renderDiffs(input, budget)
  return [...head, ...table, ...kept, ...left, ...diffSection, ...footer].join('\n')
}

function leftOut(input: PromotionBodyInput): string[] {
  const lines: string[] = []
  for (const a of input.apps) {
    if (a.status === 'missing-in-target') {
      lines.push(
        `- \`${cell(a.app)}\` is not in ${md(input.to)} (\`${cell(a.targetDir)}\` has no kustomization); add it there once, then promotions carry its pins`
      )
      continue
    }
    for (const i of a.images) lines.push(...imageNote(a.app, i, input))
  }
  const unchanged = input.apps.filter(a => a.status === 'unchanged').map(a => `\`${cell(a.app)}\``)
  if (unchanged.length > 0)
    lines.push(`- already identical in ${md(input.to)}: ${unchanged.join(', ')}`)
  return lines.length > 0 ? ['', '**Not promoted**', '', ...lines] : []
}

function imageNote(app: string, i: ImageOutcome, input: PromotionBodyInput): string[] {
  if (i.kind === 'not-in-target') {
    return [
      `- \`${cell(app)}\`: \`${cell(i.name)}\` is pinned in ${md(input.from)} (\`${cell(formatPin(i.pin))}\`) but not listed in ${md(input.to)}; add the entry there to start promoting it`
    ]
  }
  if (i.kind === 'skipped') return [`- \`${cell(app)}\`: \`${cell(i.name)}\`: ${md(i.reason)}`]
  return []
}

function renderDiffs(input: PromotionBodyInput, budget: number): string[] {
  const out = ['', '### Rendered changes', '']
  if (input.renderNote) return [...out, `_${md(input.renderNote)}_`]
  if (input.diffs.length === 0) return []
  budget -= out.join('\n').length
  const skipped: string[] = []
  for (const d of input.diffs) {
    const title = `\`${cell(d.dir)}\``
    if (d.kind === 'same') {
      out.push(`- ${title}: the rendered manifests do not change`)
      budget -= out[out.length - 1].length + 1
      continue
    }
    if (d.kind === 'note') {
      out.push(`- ${title}: ${md(d.message)}`)
      budget -= out[out.length - 1].length + 1
      continue
    }
    const fence = '`'.repeat(Math.max(3, longestBacktickRun(d.text) + 1))
    // Markdown does not apply inside <summary>, so the path goes in <code>.
    const open = `<details><summary><code>${html(d.dir)}</code> (+${d.added} −${d.removed})</summary>\n\n${fence}diff`
    const close = `${fence}\n\n</details>`
    const whole = `${open}\n${d.text.endsWith('\n') ? d.text : d.text + '\n'}${close}`
    if (whole.length + 1 <= budget) {
      out.push(whole)
      budget -= whole.length + 1
      continue
    }
    const note = TRUNCATED(d.dir)
    const room = budget - open.length - close.length - note.length - 8
    if (room < 400 || skipped.length > 0) {
      skipped.push(d.dir)
      continue
    }
    let cut = d.text.lastIndexOf('\n', room)
    if (cut < 0) cut = 0
    const part = `${open}\n${d.text.slice(0, cut)}\n${close}\n\n_${note}_`
    out.push(part)
    budget -= part.length + 1
  }
  if (skipped.length > 0) {
    out.push(
      `_Rendered diff not shown for ${skipped.map(s => `\`${cell(s)}\``).join(', ')}: it does not fit the ${BODY_LIMIT.toLocaleString('en-US')}-character limit of a PR description. Run \`kubectl kustomize <dir>\` on this branch and on the base to compare._`
    )
  }
  return out
}

function longestBacktickRun(s: string): number {
  let best = 0
  for (const m of s.matchAll(/`+/g)) best = Math.max(best, m[0].length)
  return best
}

function html(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** Plain text inside markdown: no accidental formatting, mentions or HTML. */
function md(s: string): string {
  return s.replace(/[<>]/g, c => (c === '<' ? '&lt;' : '&gt;')).replace(/@(?=\w)/g, '@\u200b')
}
