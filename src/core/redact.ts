/**
 * Secrets are registered once and scrubbed from every string that leaves the
 * process (logs, errors, outputs). Git and HTTP libraries echo URLs and headers
 * in their errors, so redaction has to happen at the boundary, not at the call.
 */
export class Redactor {
  private readonly secrets = new Set<string>()

  add(secret: string | undefined): void {
    if (!secret) return
    this.secrets.add(secret)
    // Basic auth and base64 headers carry the token in encoded form.
    this.secrets.add(Buffer.from(secret).toString('base64'))
    for (const line of secret.split(/\r?\n/)) if (line.length >= 4) this.secrets.add(line)
  }

  addBasic(user: string, secret: string): void {
    this.add(secret)
    this.secrets.add(Buffer.from(`${user}:${secret}`).toString('base64'))
  }

  redact(text: string): string {
    let out = text
    // Longest first so a secret that contains another is replaced whole.
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) {
      if (s) out = out.split(s).join('***')
    }
    return out
  }

  list(): string[] {
    return [...this.secrets]
  }
}
