/**
 * Two failure classes, because CI scripts branch on them: exit 2 means the
 * caller must change the invocation (nothing was touched), exit 1 means the
 * operation failed and may succeed on retry or after fixing the environment.
 *
 * Every message names the cause and the fix, in one line.
 */
export class UsageError extends Error {
  readonly exitCode = 2
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export class OperationError extends Error {
  readonly exitCode = 1
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, options)
    this.name = 'OperationError'
  }
}

export function exitCodeOf(error: unknown): number {
  return error instanceof UsageError ? 2 : 1
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}

/**
 * The message without a leading `error:`: adapters add their own prefix (the CLI's `error: `,
 * the runner's `Error: `), and some causes already carry one (git's stderr, a report line), which
 * would read `error: error: ...`.
 */
export function errorLine(message: string): string {
  return message.replace(/^(?:\s*error:\s*)+/i, '')
}
