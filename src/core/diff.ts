/**
 * Unified diffs, for `--dry-run` of the edit engine and for the rendered
 * manifests in promotion PRs. Work is bounded by the number of edits D, not by
 * the size of the files (Myers O((N+M)·D) with an O(D²) trace): a promotion
 * changes a handful of image lines spread across thousands of rendered lines,
 * and a size bound would print the whole manifest twice. Only past `maxEdits`
 * is the changed region shown as one replacement — still a correct diff, only
 * not minimal, and nobody reads a diff with that many edits line by line.
 */

export interface DiffFile {
  file: string
  before: string
  after: string
}

export interface LineDiffOptions {
  /** The `---` and `+++` header labels. */
  fromLabel: string
  toLabel: string
  /** Unchanged lines around each change; 3 like git. */
  context?: number
  /** Past this many inserted plus deleted lines the changed region counts as replaced. */
  maxEdits?: number
}

export interface LineDiff {
  /** The unified diff; '' when the texts are equal. */
  text: string
  added: number
  removed: number
}

type Kind = 'same' | 'del' | 'add'
type Op = {kind: Kind; line: string}

// 1,000 edits keep the trace near 4 MB and the search at worst ~1,000 passes.
const DEFAULT_MAX_EDITS = 1000
// Marks a last line without `\n`: the missing newline is part of its identity.
const OPEN_END = '\u0000'

/** One file's unified diff (`a/<file>`, `b/<file>`) with `context` lines around each change; '' when equal. */
export function unifiedDiff(file: string, before: string, after: string, context = 3): string {
  if (before === after) return ''
  return lineDiff(before, after, {fromLabel: `a/${file}`, toLabel: `b/${file}`, context}).text
}

/** Diffs of several files, in the order given. */
export function unifiedDiffs(files: readonly DiffFile[], context = 3): string {
  return files.map(f => unifiedDiff(f.file, f.before, f.after, context)).join('')
}

/** A unified diff with free-form labels and the counts of added and removed lines. */
export function lineDiff(before: string, after: string, options: LineDiffOptions): LineDiff {
  const ops = lineOps(before, after, options.maxEdits ?? DEFAULT_MAX_EDITS)
  let added = 0
  let removed = 0
  for (const o of ops) {
    if (o.kind === 'add') added++
    else if (o.kind === 'del') removed++
  }
  if (added === 0 && removed === 0) return {text: '', added, removed}
  const out = [`--- ${options.fromLabel}`, `+++ ${options.toLabel}`]
  for (const hunk of hunks(ops, options.context ?? 3)) {
    out.push(`@@ -${hunk.aStart},${hunk.aCount} +${hunk.bStart},${hunk.bCount} @@`)
    for (const o of ops.slice(hunk.from, hunk.to)) {
      const mark = o.kind === 'same' ? ' ' : o.kind === 'del' ? '-' : '+'
      if (o.line.endsWith(OPEN_END))
        out.push(`${mark}${o.line.slice(0, -1)}`, '\\ No newline at end of file')
      else out.push(`${mark}${o.line}`)
    }
  }
  return {text: out.join('\n') + '\n', added, removed}
}

interface Hunk {
  from: number
  to: number
  aStart: number
  aCount: number
  bStart: number
  bCount: number
}

/** Groups the ops into hunks, joining changes at most 2·context lines apart (as git does). */
function hunks(ops: readonly Op[], context: number): Hunk[] {
  const result: Hunk[] = []
  // Line numbers (1-based) of ops[cursor] in the old and the new text.
  let cursor = 0
  let aLine = 1
  let bLine = 1
  const advanceTo = (index: number) => {
    for (; cursor < index; cursor++) {
      if (ops[cursor].kind !== 'add') aLine++
      if (ops[cursor].kind !== 'del') bLine++
    }
  }
  let i = 0
  while (i < ops.length) {
    while (i < ops.length && ops[i].kind === 'same') i++
    if (i >= ops.length) break
    const from = Math.max(i - context, cursor)
    let end = i
    for (;;) {
      while (end < ops.length && ops[end].kind !== 'same') end++
      let gap = end
      while (gap < ops.length && ops[gap].kind === 'same') gap++
      if (gap < ops.length && gap - end <= 2 * context) end = gap
      else {
        end = Math.min(ops.length, end + context)
        break
      }
    }
    advanceTo(from)
    const aStart = aLine
    const bStart = bLine
    advanceTo(end)
    const aCount = aLine - aStart
    const bCount = bLine - bStart
    // An empty side names the line before it, as diff and git apply expect.
    result.push({
      from,
      to: end,
      aStart: aCount === 0 ? aStart - 1 : aStart,
      aCount,
      bStart: bCount === 0 ? bStart - 1 : bStart,
      bCount
    })
    i = end
  }
  return result
}

/** Lines without their `\n` (a `\r` stays, so CRLF edits show as such). */
function splitLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  else lines[lines.length - 1] += OPEN_END
  return lines
}

function lineOps(before: string, after: string, maxEdits: number): Op[] {
  const a = splitLines(before)
  const b = splitLines(after)
  // Common prefix and suffix cost nothing and shrink the search.
  let pre = 0
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++
  let suf = 0
  while (
    suf < a.length - pre &&
    suf < b.length - pre &&
    a[a.length - 1 - suf] === b[b.length - 1 - suf]
  )
    suf++
  const midA = a.slice(pre, a.length - suf)
  const midB = b.slice(pre, b.length - suf)
  const same = (line: string): Op => ({kind: 'same', line})
  const mid = middleOps(midA, midB, maxEdits) ?? [
    ...midA.map((line): Op => ({kind: 'del', line})),
    ...midB.map((line): Op => ({kind: 'add', line}))
  ]
  return [...a.slice(0, pre).map(same), ...mid, ...a.slice(a.length - suf).map(same)]
}

/** The shortest edit script, or undefined when it needs more than `maxEdits` edits. */
function middleOps(a: string[], b: string[], maxEdits: number): Op[] | undefined {
  // Lines as numbers: the search compares them many times over.
  const ids = new Map<string, number>()
  const intern = (lines: string[]) => {
    const out = new Int32Array(lines.length)
    lines.forEach((line, i) => {
      let id = ids.get(line)
      if (id === undefined) ids.set(line, (id = ids.size))
      out[i] = id
    })
    return out
  }
  const kinds = myers(intern(a), intern(b), maxEdits)
  if (!kinds) return undefined
  const ops: Op[] = []
  let x = 0
  let y = 0
  for (const kind of kinds) {
    if (kind === 'add') ops.push({kind, line: b[y++]})
    else {
      ops.push({kind, line: a[x++]})
      if (kind === 'same') y++
    }
  }
  return ops
}

function myers(a: Int32Array, b: Int32Array, maxEdits: number): Kind[] | undefined {
  const n = a.length
  const m = b.length
  const max = Math.min(n + m, maxEdits)
  const offset = max + 1
  const v = new Int32Array(2 * max + 3)
  // trace[d] holds the furthest x on diagonals -d..d after round d: O(D²) in all.
  const trace: Int32Array[] = []
  let found = -1
  for (let d = 0; d <= max && found < 0; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1])
          ? v[offset + k + 1]
          : v[offset + k - 1] + 1
      let y = x - k
      while (x < n && y < m && a[x] === b[y]) {
        x++
        y++
      }
      v[offset + k] = x
      if (x >= n && y >= m) {
        found = d
        break
      }
    }
    if (found < 0) trace.push(v.slice(offset - d, offset + d + 1))
  }
  if (found < 0) return undefined
  // Walk back from (n, m) through the frontier of each earlier round.
  const kinds: Kind[] = []
  let x = n
  let y = m
  for (let d = found; d > 0; d--) {
    const prev = trace[d - 1]
    const at = (k: number) => prev[k + d - 1]
    const k = x - y
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1))
    const prevK = down ? k + 1 : k - 1
    const prevX = at(prevK)
    const prevY = prevX - prevK
    while (x > prevX && y > prevY) {
      kinds.push('same')
      x--
      y--
    }
    kinds.push(down ? 'add' : 'del')
    if (down) y--
    else x--
  }
  while (x > 0) {
    kinds.push('same')
    x--
  }
  return kinds.reverse()
}
