/**
 * The only place that lists the forges. Adding one means a folder
 * forge/<name>/ with its pulls and commits clients and its record, and one
 * line here (plus its kind in ProviderKind and its detection in provider.ts).
 */
import type {ForgeProvider} from './forge-provider.js'
import {github} from './github/index.js'
import {gitlab} from './gitlab/index.js'
import type {ProviderKind} from './provider.js'

const FORGES: Record<ProviderKind, ForgeProvider> = {github, gitlab}

export function forgeProvider(kind: ProviderKind): ForgeProvider {
  return FORGES[kind]
}

/** Link to a commit in the web UI, in the layout of the forge the host looks like (GitHub's otherwise). */
export function commitUrl(remote: {webUrl?: string}, sha: string): string | undefined {
  const webUrl = remote.webUrl
  if (!webUrl) return undefined
  const host = new URL(webUrl).hostname
  const forge = Object.values(FORGES).find(f => f.hostLooksLike(host))
  return (forge ?? github).commitUrl(webUrl, sha)
}
