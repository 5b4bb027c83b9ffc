/**
 * Unified diff of two rendered manifests, line by line. Unlike the edit
 * engine's diff (src/core/diff.ts), which bounds work by the size of the
 * changed region and falls back to "replace everything" past ~2,000 lines,
 * this one bounds work by the number of edits (Myers O((N+M)·D)): a promotion
 * changes a handful of image lines spread across thousands of rendered lines,
 * exactly the case where a size bound would print the whole manifest twice.
 * Past `maxEdits` the texts count as wholly replaced (memory stays under
 * ~8 MB); nobody reads such a diff anyway.
 */

export interface UnifiedDiff {
  text: string
  added: number
  removed: number
}

type Op = {kind: ' ' | '-' | '+'; line: string}

export function unifiedDiff(
  before: string,
  after: string,
  options: {fromLabel: string; toLabel: string; context?: number; maxEdits?: number}
): UnifiedDiff {
  const a = splitLines(before)
  const b = splitLines(after)
  const ops = diffLines(a, b, options.maxEdits ?? 1000)
  const added = ops.filter(o => o.kind === '+').length
  const removed = ops.filter(o => o.kind === '-').length
  if (added === 0 && removed === 0) return {text: '', added, removed}
  const context = options.context ?? 3
  const lines = [`--- ${options.fromLabel}`, `+++ ${options.toLabel}`]
  // Positions of changes decide the hunks; context lines join hunks that are close.
  let i = 0
  while (i < ops.length) {
    while (i < ops.length && ops[i].kind === ' ') i++
    if (i >= ops.length) break
    let start = Math.max(0, i - context)
    let end = i
    for (let j = i; j < ops.length; j++) {
      if (ops[j].kind !== ' ') end = j
      else if (j - end > context * 2) break
    }
    const stop = Math.min(ops.length, end + context + 1)
    let aLine = 1
    let bLine = 1
    for (let k = 0; k < start; k++) {
      if (ops[k].kind !== '+') aLine++
      if (ops[k].kind !== '-') bLine++
    }
    const hunk = ops.slice(start, stop)
    const aCount = hunk.filter(o => o.kind !== '+').length
    const bCount = hunk.filter(o => o.kind !== '-').length
    lines.push(`@@ -${range(aLine, aCount)} +${range(bLine, bCount)} @@`)
    for (const o of hunk) lines.push(`${o.kind}${o.line}`)
    i = stop
    start = stop
  }
  return {text: lines.join('\n') + '\n', added, removed}
}

function range(start: number, count: number): string {
  if (count === 0) return `${start - 1},0`
  return count === 1 ? `${start}` : `${start},${count}`
}

function splitLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  return lines
}

function diffLines(a: string[], b: string[], maxEdits: number): Op[] {
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
  const ops: Op[] = a.slice(0, pre).map(line => ({kind: ' ' as const, line}))
  ops.push(...myers(midA, midB, maxEdits))
  ops.push(...a.slice(a.length - suf).map(line => ({kind: ' ' as const, line})))
  return ops
}

function myers(a: string[], b: string[], maxEdits: number): Op[] {
  const n = a.length
  const m = b.length
  if (n === 0) return b.map(line => ({kind: '+' as const, line}))
  if (m === 0) return a.map(line => ({kind: '-' as const, line}))
  const max = Math.min(n + m, maxEdits)
  const offset = max + 1
  let v: Int32Array = new Int32Array(2 * max + 3)
  const trace: Int32Array[] = []
  let found = -1
  for (let d = 0; d <= max && found < 0; d++) {
    trace.push(v.slice())
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
  }
  if (found < 0) {
    return [
      ...a.map(line => ({kind: '-' as const, line})),
      ...b.map(line => ({kind: '+' as const, line}))
    ]
  }
  // Walk the trace backwards from (n, m) to recover the edit script.
  const ops: Op[] = []
  let x = n
  let y = m
  for (let d = found; d > 0; d--) {
    v = trace[d]
    const k = x - y
    const prevK = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? k + 1 : k - 1
    const prevX = v[offset + prevK]
    const prevY = prevX - prevK
    while (x > prevX && y > prevY) {
      ops.push({kind: ' ', line: a[--x]})
      y--
    }
    if (x === prevX) ops.push({kind: '+', line: b[--y]})
    else ops.push({kind: '-', line: a[--x]})
  }
  while (x > 0 && y > 0) {
    ops.push({kind: ' ', line: a[--x]})
    y--
  }
  return ops.reverse()
}
