/**
 * Credentials in any written file (private keys, cloud and forge tokens,
 * ...), found with secretlint's recommended rule preset: a maintained set of
 * detectors with known-example allowlists, rather than regexes of our own.
 * Only credentials this run adds count: one already committed, unchanged,
 * does not block an unrelated edit of its file. The value never appears in
 * the message, only where it is and what kind it is.
 */
import {createHash} from 'node:crypto'
import {lintSource} from '@secretlint/core'
import {creator as recommended} from '@secretlint/secretlint-rule-preset-recommend'
import picomatch from 'picomatch'
import {UsageError} from '../core/errors.js'
import type {Guard, PlannedWrite} from './edit.js'

interface Credential {
  file: string
  line: number
  kind: string
  /** A hash of the matched text, to tell a new credential from one already in the file. */
  fingerprint: string
}

const CONFIG = {rules: [{id: '@secretlint/secretlint-rule-preset-recommend', rule: recommended}]}

async function credentialsIn(file: string, text: string): Promise<Credential[]> {
  // Binary content (a copied image, an archive) holds no text credential we could name.
  if (text.includes('\0')) return []
  const result = await lintSource({
    source: {filePath: `/${file}`, content: text, contentType: 'text'},
    options: {config: CONFIG, maskSecrets: true}
  })
  return result.messages.map(m => {
    const [start, end] = m.range
    return {
      file,
      line: text.slice(0, start).split('\n').length,
      kind: m.messageId || m.ruleId,
      fingerprint: createHash('sha256')
        .update(`${m.ruleId}\0${text.slice(start, end)}`)
        .digest('hex')
    }
  })
}

async function newCredentials(w: PlannedWrite): Promise<Credential[]> {
  const after = await credentialsIn(w.path, w.after)
  if (after.length === 0 || w.before === null) return after
  const before = new Set((await credentialsIn(w.path, w.before)).map(c => c.fingerprint))
  return after.filter(c => !before.has(c.fingerprint))
}

/** Refuses writes that add a credential, except in files --allow-secret names. */
export function credentialGuard(allowed: readonly string[] = []): Guard {
  const exempt = allowed.length > 0 ? picomatch([...allowed], {dot: true}) : () => false
  return async writes => {
    const found = (
      await Promise.all(writes.filter(w => !exempt(w.path)).map(newCredentials))
    ).flat()
    if (found.length === 0) return
    const list = found.map(c => `${c.file}:${c.line}: ${c.kind}`).join('; ')
    throw new UsageError(
      `refusing to commit what looks like a credential: ${list}; remove it from the file and rotate it (it may already be exposed), then reference it from a secret store (argocd-vault-plugin placeholder, SOPS, ExternalSecret); or, if it is not a credential, allow the file with --allow-secret <path>`
    )
  }
}
