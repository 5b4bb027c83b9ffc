/**
 * Markdown pieces the PR/MR descriptions share: table cells and rows, and
 * fitting lines into the description's size limit.
 */

/** GitHub and GitLab both cap a PR/MR description at 65,536 characters (GitLab: 1,048,576, but one limit is simpler). */
export const BODY_LIMIT = 65_536

/**
 * Text for a table cell that is usually shown as code: a `|` would end the
 * cell, a backtick the code span, and a newline the row.
 */
export function tableCell(s: string): string {
  return s
    .replace(/\|/g, '\\|')
    .replace(/`/g, "'")
    .replace(/[\r\n]+/g, ' ')
}

/** `| a | b |` from cells that are already escaped. */
export function tableRow(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`
}

/** The header row and the separator row of a table. */
export function tableHead(titles: readonly string[]): string[] {
  return [tableRow(titles), tableRow(titles.map(() => '---'))]
}

/**
 * The longest leading run of `lines` that fits in `budget` characters,
 * counting one newline after each line, and the budget left after it. The
 * caller says what was cut: rows are never dropped silently.
 */
export function fitLines(lines: readonly string[], budget: number): {kept: string[]; left: number} {
  const kept: string[] = []
  for (const line of lines) {
    if (line.length + 1 > budget) break
    kept.push(line)
    budget -= line.length + 1
  }
  return {kept, left: budget}
}
