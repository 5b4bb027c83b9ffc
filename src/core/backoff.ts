/**
 * The one retry pause every remote loop uses (git push, git reads, the API
 * commit loop, the PR lifecycle). Pure: the clock and the randomness are
 * injectable, and the default sleep is the only timer.
 */
export interface Backoff {
  baseMs: number
  capMs: number
  random?: () => number
  sleep?: (ms: number) => Promise<void>
}

/**
 * Full jitter over a doubling window. The window starts at the longer of
 * `baseMs` and the time the last attempt took: retrying sooner than one
 * attempt lasts only collides again with the same writers, and on a loaded
 * runner or a slow link an attempt takes far longer than any fixed base.
 */
export const DEFAULT_BACKOFF: Backoff = {baseMs: 200, capMs: 15_000}

export function backoffDelay(attempt: number, backoff: Backoff, lastAttemptMs = 0): number {
  const start = Math.max(backoff.baseMs, lastAttemptMs)
  const window = Math.min(backoff.capMs, start * 2 ** (attempt - 1))
  return Math.round((backoff.random ?? Math.random)() * window)
}

const sleepMs = (ms: number) => new Promise<void>(r => setTimeout(r, ms))

/** Waits `ms` with the backoff's sleep (tests inject one that does not wait). */
export function pause(backoff: Backoff, ms: number): Promise<void> {
  return (backoff.sleep ?? sleepMs)(ms)
}
