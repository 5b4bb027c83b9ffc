import type {Redactor} from '../core/redact.js'

/**
 * What a command may ask of the environment it runs in. The CLI, the GitHub
 * Action and the GitLab job each implement it; commands never import
 * `@actions/*` or read `process.stdout` directly.
 */
export interface Platform {
  info(message: string): void
  warning(message: string): void
  debug(message: string): void
  /** Registers a secret: masked in CI logs and scrubbed from our own output. */
  setSecret(value: string): void
  group<T>(name: string, fn: () => Promise<T>): Promise<T>
  readonly redactor: Redactor
}

/** A platform that records what it was told; for tests and library use. */
export function memoryPlatform(redactor: Redactor): Platform & {lines: string[]} {
  const lines: string[] = []
  return {
    lines,
    redactor,
    info: m => void lines.push(redactor.redact(m)),
    warning: m => void lines.push(`warning: ${redactor.redact(m)}`),
    debug: () => undefined,
    setSecret: v => redactor.add(v),
    group: async (name, fn) => {
      lines.push(`## ${name}`)
      return fn()
    }
  }
}
