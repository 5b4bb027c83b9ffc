/**
 * Work to undo when the process is told to stop (SIGTERM/SIGINT: how CI
 * cancels a job). `finally` blocks do not run when a signal ends the
 * process, so whoever creates something temporary (a clone in TMPDIR)
 * registers its removal here and unregisters it when done normally.
 */
const pending = new Set<() => Promise<void> | void>()

/** Registers `undo`; the returned function unregisters it. */
export function onInterrupt(undo: () => Promise<void> | void): () => void {
  pending.add(undo)
  return () => void pending.delete(undo)
}

/** Runs every registered undo once (errors ignored: the process is going away). */
export async function runInterruptCleanups(): Promise<void> {
  const all = [...pending]
  pending.clear()
  await Promise.all(all.map(async undo => undo()).map(p => p.catch(() => undefined)))
}
