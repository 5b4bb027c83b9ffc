/**
 * Unified diffs for `--dry-run` and reports. Pure and small: the edits this
 * project makes touch a few lines, so a Myers diff over the lines between the
 * common prefix and suffix is plenty.
 */

export interface DiffFile {
  file: string
  before: string
  after: string
}

type Op = {kind: 'same' | 'del' | 'add'; line: string}

/** Lines without their `\n` (a `\r` stays, so CRLF edits show as such). */
function splitLines(text: string): {lines: string[]; openEnd: boolean} {
  if (text === '') return {lines: [], openEnd: false}
  const lines = text.split('\n')
  const openEnd = lines[lines.length - 1] !== ''
  if (!openEnd) lines.pop()
  return {lines, openEnd}
}

// Beyond this many cells the middle is shown as one replacement; the result is
// still a correct diff, only less minimal.
const MAX_CELLS = 4_000_000

function myers(a: string[], b: string[]): Op[] {
  const n = a.length
  const m = b.length
  if (n === 0) return b.map(line => ({kind: 'add', line}))
  if (m === 0) return a.map(line => ({kind: 'del', line}))
  if ((n + m) * (n + m) > MAX_CELLS) {
    return [
      ...a.map(line => ({kind: 'del', line}) as Op),
      ...b.map(line => ({kind: 'add', line}) as Op)
    ]
  }
  const max = n + m
  const offset = max + 1
  const v = new Int32Array(2 * max + 3)
  const trace: Int32Array[] = []
  const choose = (vv: Int32Array, k: number, d: number) =>
    k === -d || (k !== d && vv[offset + k - 1] < vv[offset + k + 1]) ? k + 1 : k - 1
  search: for (let d = 0; d <= max; d++) {
    trace.push(v.slice())
    for (let k = -d; k <= d; k += 2) {
      const prevK = choose(v, k, d)
      let x = prevK === k + 1 ? v[offset + k + 1] : v[offset + k - 1] + 1
      let y = x - k
      while (x < n && y < m && a[x] === b[y]) {
        x++
        y++
      }
      v[offset + k] = x
      if (x >= n && y >= m) break search
    }
  }
  // Walk back through the frontier saved before each round.
  const ops: Op[] = []
  let x = n
  let y = m
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d]
    const k = x - y
    const prevK = choose(vd, k, d)
    const prevX = d === 0 ? 0 : vd[offset + prevK]
    const prevY = d === 0 ? 0 : prevX - prevK
    while (x > prevX && y > prevY) {
      x--
      y--
      ops.push({kind: 'same', line: a[x]})
    }
    if (d === 0) break
    if (x === prevX) ops.push({kind: 'add', line: b[--y]})
    else ops.push({kind: 'del', line: a[--x]})
  }
  return ops.reverse()
}

function lineOps(before: string, after: string): {ops: Op[]; aOpen: boolean; bOpen: boolean} {
  const a = splitLines(before)
  const b = splitLines(after)
  // The last line's missing newline is part of its identity.
  const al = a.lines.map((l, i) => (a.openEnd && i === a.lines.length - 1 ? `${l}\u0000` : l))
  const bl = b.lines.map((l, i) => (b.openEnd && i === b.lines.length - 1 ? `${l}\u0000` : l))
  let pre = 0
  while (pre < al.length && pre < bl.length && al[pre] === bl[pre]) pre++
  let suf = 0
  while (
    suf < al.length - pre &&
    suf < bl.length - pre &&
    al[al.length - 1 - suf] === bl[bl.length - 1 - suf]
  )
    suf++
  const mid = myers(al.slice(pre, al.length - suf), bl.slice(pre, bl.length - suf))
  const ops: Op[] = [
    ...al.slice(0, pre).map(line => ({kind: 'same', line}) as Op),
    ...mid,
    ...al.slice(al.length - suf).map(line => ({kind: 'same', line}) as Op)
  ]
  return {ops, aOpen: a.openEnd, bOpen: b.openEnd}
}

/** One file's unified diff with `context` lines around each change; '' when equal. */
export function unifiedDiff(file: string, before: string, after: string, context = 3): string {
  if (before === after) return ''
  const {ops} = lineOps(before, after)
  const out: string[] = [`--- a/${file}`, `+++ b/${file}`]
  let i = 0
  while (i < ops.length) {
    while (i < ops.length && ops[i].kind === 'same') i++
    if (i >= ops.length) break
    let start = Math.max(0, i - context)
    let end = i
    // Extend the hunk while changes are within 2*context of each other.
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
    let aLine = 1
    let bLine = 1
    for (let j = 0; j < start; j++) {
      if (ops[j].kind !== 'add') aLine++
      if (ops[j].kind !== 'del') bLine++
    }
    const hunk = ops.slice(start, end)
    const aCount = hunk.filter(o => o.kind !== 'add').length
    const bCount = hunk.filter(o => o.kind !== 'del').length
    out.push(
      `@@ -${aCount === 0 ? aLine - 1 : aLine},${aCount} +${bCount === 0 ? bLine - 1 : bLine},${bCount} @@`
    )
    for (const o of hunk) {
      const mark = o.kind === 'same' ? ' ' : o.kind === 'del' ? '-' : '+'
      if (o.line.endsWith('\u0000'))
        out.push(`${mark}${o.line.slice(0, -1)}`, '\\ No newline at end of file')
      else out.push(`${mark}${o.line}`)
    }
    i = end
    start = end
  }
  return out.join('\n') + '\n'
}

/** Diffs of several files, in the order given. */
export function unifiedDiffs(files: readonly DiffFile[], context = 3): string {
  return files.map(f => unifiedDiff(f.file, f.before, f.after, context)).join('')
}
