/**
 * Keeps plaintext secrets out of the config repo: a planned write that holds
 * a Kubernetes `Secret` with clear `data`/`stringData` values, or a
 * kustomization whose `secretGenerator` carries clear `literals`, is refused
 * before anything is committed. What keeps secrets out of git passes:
 * argocd-vault-plugin placeholders (`<path:kv/data/app#KEY>` anywhere;
 * `<KEY>` when the Secret has an `avp.kubernetes.io/path` annotation),
 * SOPS-encrypted files (`sops:` metadata, `ENC[...]` values), and other
 * kinds (SealedSecret, ExternalSecret), which hold no clear values. Edit-
 * agnostic: it sees only the planned writes.
 */
import picomatch from 'picomatch'
import {parseAllDocuments, type Document} from 'yaml'
import {UsageError} from '../core/errors.js'
import type {Guard, PlannedWrite} from './edit.js'

const AVP_PATH_PLACEHOLDER = /^<path:[^<>#]+#[^<>]+>$/
const AVP_KEY_PLACEHOLDER = /^<[A-Za-z0-9_.-]+>$/
const SOPS_VALUE = /^ENC\[[A-Za-z0-9_]+,data:.*\]$/s
const YAML_FILE = /\.(ya?ml|json)$/i

interface Finding {
  file: string
  what: string
  keys: string[]
}

/** The guard deliver() runs; files matching an `allowed` path or glob (--allow-secret) pass. */
export function plaintextSecretGuard(allowed: readonly string[] = []): Guard {
  const exempt = allowed.length > 0 ? picomatch([...allowed], {dot: true}) : () => false
  return async writes => refuse(writes.filter(w => !exempt(w.path)).flatMap(findingsIn))
}

async function refuse(findings: Finding[]): Promise<void> {
  if (findings.length === 0) return
  const list = findings.map(f => `${f.file}: ${f.what} (${f.keys.join(', ')})`).join('; ')
  throw new UsageError(
    `refusing to commit plaintext secrets: ${list}; keep secrets out of git: encrypt the file with SOPS, use a SealedSecret or an ExternalSecret, or argocd-vault-plugin placeholders (<path:kv/data/app#KEY>); or, if these values are not secret, allow the file with --allow-secret <path>`
  )
}

function findingsIn(write: PlannedWrite): Finding[] {
  if (!YAML_FILE.test(write.path)) return []
  const after = secretsIn(write.path, write.after)
  if (after.length === 0) return []
  // A secret already committed as it is is not this run's doing; only new or changed ones count.
  const before = new Set(write.before === null ? [] : secretsIn(write.path, write.before).map(key))
  return after.filter(f => !before.has(key(f)))
}

function key(f: Finding & {fingerprint?: string}): string {
  return f.fingerprint ?? `${f.what}|${f.keys.join(',')}`
}

function secretsIn(file: string, text: string): (Finding & {fingerprint: string})[] {
  let docs: Document.Parsed[]
  try {
    docs = parseAllDocuments(text) as Document.Parsed[]
  } catch {
    return []
  }
  if (!Array.isArray(docs)) return []
  const out: (Finding & {fingerprint: string})[] = []
  for (const doc of docs) {
    if (doc.errors.length > 0) continue
    const obj = doc.toJS({maxAliasCount: 100}) as Record<string, unknown> | null
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) continue
    // A SOPS-encrypted document keeps its metadata at the top level.
    if (isObject(obj.sops)) continue
    if (obj.kind === 'Secret') {
      const meta = isObject(obj.metadata) ? obj.metadata : {}
      const annotations = isObject(meta.annotations) ? meta.annotations : {}
      const avp = typeof annotations['avp.kubernetes.io/path'] === 'string'
      const keys: string[] = []
      for (const field of ['data', 'stringData'] as const) {
        const values = obj[field]
        if (!isObject(values)) continue
        for (const [k, v] of Object.entries(values)) {
          if (isClear(v, avp, field === 'data')) keys.push(`${field}.${k}`)
        }
      }
      if (keys.length > 0)
        out.push(finding(file, 'Secret', meta.name, keys, [obj.data, obj.stringData]))
    }
    const generators = obj.secretGenerator
    if (Array.isArray(generators)) {
      for (const g of generators) {
        if (!isObject(g) || !Array.isArray(g.literals)) continue
        const keys = g.literals
          .filter((l): l is string => typeof l === 'string')
          .filter(l => {
            const i = l.indexOf('=')
            return i > 0 && isClear(l.slice(i + 1), false, false)
          })
          .map(l => `literals.${l.slice(0, l.indexOf('='))}`)
        if (keys.length > 0) out.push(finding(file, 'secretGenerator', g.name, keys, g.literals))
      }
    }
  }
  return out
}

/** One refused object; the fingerprint tells an unchanged, already committed one apart. */
function finding(
  file: string,
  kind: string,
  name: unknown,
  keys: string[],
  values: unknown
): Finding & {fingerprint: string} {
  const what = `${kind} ${typeof name === 'string' ? name : '(unnamed)'}`
  return {file, what, keys, fingerprint: `${what}|${JSON.stringify(values)}`}
}

/** A value that reveals something: not empty, not a placeholder, not SOPS ciphertext. */
function isClear(value: unknown, avpAnnotated: boolean, base64: boolean): boolean {
  if (value === null || value === undefined) return false
  const text = String(value).trim()
  if (text === '') return false
  if (SOPS_VALUE.test(text)) return false
  const plain = base64 ? decodeBase64(text) : text
  for (const v of new Set([text, plain ?? text])) {
    const t = v.trim()
    if (t === '') return false
    if (AVP_PATH_PLACEHOLDER.test(t)) return false
    if (avpAnnotated && AVP_KEY_PLACEHOLDER.test(t)) return false
  }
  return true
}

function decodeBase64(text: string): string | undefined {
  if (!/^[A-Za-z0-9+/=\s]+$/.test(text)) return undefined
  return Buffer.from(text, 'base64').toString('utf8')
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
