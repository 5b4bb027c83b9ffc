import {runInterruptCleanups} from '../core/cleanup.js'
import {stopGitChildren} from '../git/exec.js'

/**
 * CI cancels a job with SIGINT or SIGTERM. Without a handler Node exits at
 * once, its git children (a push in flight) run on and may land seconds
 * later, and the clone stays in TMPDIR. So: pass the signal on to git, wait
 * briefly, remove what we created, say that the push outcome is unknown
 * and exit 1. A second signal exits at once.
 */
export function exitCleanlyOnSignals(report: (message: string) => void): () => void {
  let stopping = false
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1)
    stopping = true
    void (async () => {
      const stopped = await stopGitChildren(signal).catch(() => 0)
      await runInterruptCleanups()
      report(
        `interrupted by ${signal}${stopped > 0 ? `; ${stopped} git process${stopped === 1 ? ' was' : 'es were'} stopped` : ''}, so whether the push landed is unknown; re-run the job: it checks the branch first and finishes or repeats the change (it is idempotent)`
      )
      process.exit(1)
    })()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return () => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
}
