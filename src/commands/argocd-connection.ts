import {readFileSync} from 'node:fs'
import {looksLikeJwt} from '../argocd/client.js'
import {UsageError} from '../core/errors.js'
import type {Platform} from '../platform/port.js'
import type {Env, InputReader} from './types.js'

/**
 * How a command reaches Argo CD: the server flag (`--server` for argo-upsert,
 * `--argocd-server` where the command's own `--repo`/`--app` mean the config
 * repo), the token from ARGOCD_AUTH_TOKEN only, and TLS. Read once, the same
 * way for every command that talks to Argo CD.
 */
export interface ArgoConnectionSettings {
  server: string
  /** The flag that named it, so Argo CD errors name what the user wrote. */
  serverFlag: string
  token: string
  insecure: boolean
  ca?: string
  pollMs: number
  retryBaseMs: number
}

function normalizeServer(raw: string, flag: string): string {
  let s = raw.trim().replace(/\/+$/, '')
  // The argocd CLI takes a bare host (gRPC); the REST API needs a scheme.
  if (!/^[a-z]+:\/\//i.test(s)) s = `https://${s}`
  let url: URL
  try {
    url = new URL(s)
  } catch {
    throw new UsageError(
      `--${flag} '${raw}' is not a URL; pass the Argo CD server, e.g. https://cd.example.com`
    )
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(
      `--${flag} '${raw}' must be http(s); pass the Argo CD server, e.g. https://cd.example.com`
    )
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new UsageError(
      `--${flag} must not carry credentials, a query or a fragment; put the token in ARGOCD_AUTH_TOKEN and pass only the URL`
    )
  }
  return s
}

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer delay would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** `--<flag> 600`, `10m`, `1h`: a duration in milliseconds, within what a timer can hold. */
export function parseDuration(
  raw: string | undefined,
  flag: string,
  fallback: string,
  opts: {allowZero?: boolean} = {}
): number {
  const text = (raw ?? fallback).trim()
  const m = /^(\d+)(s|m|h)?$/.exec(text)
  if (!m || (!opts.allowZero && Number(m[1]) <= 0)) {
    throw new UsageError(
      `--${flag} '${raw}' is not a duration; give seconds, e.g. --${flag} ${fallback} (or 10m)`
    )
  }
  const ms = Number(m[1]) * {s: 1, m: 60, h: 3600}[(m[2] ?? 's') as 's' | 'm' | 'h'] * 1000
  if (ms > MAX_TIMER_MS) {
    throw new UsageError(
      `--${flag} '${raw}' is longer than ${Math.floor(MAX_TIMER_MS / 1000)}s (about 24 days), the longest delay a timer can hold; give a shorter duration`
    )
  }
  return ms
}

const HEALTH_ACCEPTABLE = ['Suspended', 'Degraded']

/** `--accept-health Suspended` (commas split): health values that count as done besides Healthy. */
export function parseAcceptHealth(raw: string[]): string[] {
  const out: string[] = []
  for (const item of raw.flatMap(r => r.split(/[,\n]/))) {
    const v = item.trim()
    if (!v || v === 'Healthy') continue
    const known = HEALTH_ACCEPTABLE.find(h => h.toLowerCase() === v.toLowerCase())
    if (!known) {
      throw new UsageError(
        `--accept-health '${v}' is not accepted; give ${HEALTH_ACCEPTABLE.join(' or ')} (Healthy always counts)`
      )
    }
    if (!out.includes(known)) out.push(known)
  }
  return out
}

export function envMs(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n < 1 || n > MAX_TIMER_MS)
    throw new UsageError(
      `${name}='${value}' is not a positive number of milliseconds up to ${MAX_TIMER_MS}; unset it for the default`
    )
  return n
}

/** Reads the token, the server flag and the TLS flags; warns about plain http. */
export function readArgoConnection(
  input: InputReader,
  env: Env,
  platform: Platform,
  serverFlag: string
): ArgoConnectionSettings {
  const token = env.ARGOCD_AUTH_TOKEN?.trim()
  if (!token) {
    throw new UsageError(
      'ARGOCD_AUTH_TOKEN is not set; export the Argo CD API token in it (action input: argocd-token); tokens are never taken from flags'
    )
  }
  platform.setSecret(token)
  if (!looksLikeJwt(token)) {
    platform.warning(
      'ARGOCD_AUTH_TOKEN does not look like a JWT (three dot-separated parts); Argo CD will ignore it'
    )
  }
  const raw = input.string(serverFlag)?.trim()
  if (!raw) {
    throw new UsageError(
      `--${serverFlag} is required; pass the Argo CD server URL, e.g. https://cd.example.com`
    )
  }
  const server = normalizeServer(raw, serverFlag)
  const host = new URL(server).hostname
  if (server.startsWith('http:') && !['localhost', '127.0.0.1', '[::1]'].includes(host)) {
    platform.warning(`--${serverFlag} ${server} is plain http: the token travels unencrypted`)
  }
  const insecure = input.boolean('insecure') === true
  const caFile = input.string('ca-file')?.trim()
  if (insecure && caFile)
    throw new UsageError('--insecure and --ca-file exclude each other; keep --ca-file')
  let ca: string | undefined
  if (caFile) {
    try {
      ca = readFileSync(caFile, 'utf8')
    } catch (e) {
      throw new UsageError(
        `--ca-file ${caFile} cannot be read (${(e as NodeJS.ErrnoException).code}); pass a PEM file path`
      )
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      throw new UsageError(
        `--ca-file ${caFile} holds no PEM certificate; pass the CA certificate in PEM form`
      )
    }
  }

  return {
    server,
    serverFlag,
    token,
    insecure,
    ...(ca ? {ca} : {}),
    // Tuning knobs for slow proxies and for tests; defaults suit real servers.
    pollMs: envMs(env.GITOPS_ARGOCD_POLL_MS, 5000, 'GITOPS_ARGOCD_POLL_MS'),
    retryBaseMs: envMs(env.GITOPS_ARGOCD_RETRY_MS, 500, 'GITOPS_ARGOCD_RETRY_MS')
  }
}
