import {posix} from 'node:path'
import type {ArgoClient} from './client.js'
import type {Application, ApplicationSource} from './types.js'

/**
 * Finding the Applications that deploy a change to the config repo, without
 * the user naming them: an app (or one of its `sources[]`) deploys the change
 * when it reads the same repository (however the URL is spelled), follows the
 * branch the commit went to, and its path holds a changed file.
 */

/** What was pushed: the repo, where, and which files. */
export interface ChangeTarget {
  /** The config repo URL as the user gave it. */
  repo: string
  /** The branch the commit went to; undefined when unknown (the default branch). */
  branch?: string
  /** The repository's default branch, when known: what HEAD and an empty targetRevision follow. */
  defaultBranch?: string
  /** The commit that must run (full SHA). */
  commit: string
  /** Repo-relative files (or directories) the commit changed. */
  paths: string[]
}

export interface AppMatch {
  app: Application
  /** Index in spec.sources of the matching source (multi-source apps). */
  sourceIndex?: number
  /** Why it matched, for the report: e.g. "path overlays/staging holds overlays/staging/kustomization.yaml". */
  reason: string
}

export interface Considered {
  name: string
  namespace?: string
  /** Why the app does not deploy this change. */
  reason: string
}

export interface Discovery {
  matched: AppMatch[]
  considered: Considered[]
}

/**
 * One spelling per repository, as Argo CD's own NormalizeGitURL sees it:
 * scheme, credentials, port 22, a trailing slash and `.git` do not matter,
 * and neither does letter case.
 * https://github.com/Org/Repo.git, git@github.com:org/repo and
 * ssh://git@github.com:22/org/repo/ all give github.com/org/repo.
 */
export function normaliseRepoUrl(raw: string): string {
  let s = raw.trim()
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/)(.*)$/.exec(s)
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    s = `${scp[1]}/${scp[2]}`
  } else {
    try {
      const url = new URL(s)
      if (url.protocol === 'file:')
        return `file://${url.pathname.replace(/\/+$/, '').replace(/\.git$/, '')}`
      const port = url.port && url.port !== '22' && url.port !== '443' ? `:${url.port}` : ''
      s = `${url.hostname}${port}${url.pathname}`
    } catch {
      // Not a URL: a local path (tests, file remotes) compares as written.
    }
  }
  return s
    .replace(/\/+$/, '')
    .replace(/\.git$/i, '')
    .replace(/\/+$/, '')
    .toLowerCase()
}

const SHA = /^[0-9a-f]{40}$/i

/** A source path as a repo-relative directory; '' is the repository root. */
function sourceDir(path: string | undefined): string {
  const p = posix
    .normalize((path ?? '').trim() || '.')
    .replace(/^\.\/?/, '')
    .replace(/\/+$/, '')
  return p === '.' ? '' : p
}

function under(dir: string, file: string): boolean {
  return dir === '' || file === dir || file.startsWith(`${dir}/`)
}

function revisionVerdict(
  rev: string | undefined,
  target: ChangeTarget
): {ok: true} | {ok: false; reason: string} {
  const r = (rev ?? '').trim()
  const branch = target.branch
  if (r === '' || r === 'HEAD') {
    if (!branch || !target.defaultBranch || branch === target.defaultBranch) return {ok: true}
    return {
      ok: false,
      reason: `follows HEAD (the default branch ${target.defaultBranch}), not ${branch}`
    }
  }
  const name = r.replace(/^refs\/heads\//, '')
  if (branch ? name === branch : name === target.defaultBranch) return {ok: true}
  if (SHA.test(r)) {
    if (r.toLowerCase() === target.commit.toLowerCase()) return {ok: true}
    return {
      ok: false,
      reason: `pinned to commit ${r.slice(0, 12)}, which cannot include ${target.commit.slice(0, 12)}`
    }
  }
  if (r.startsWith('refs/tags/') || /^v?\d+(\.\d+)*([-+].*)?$/.test(r) || /[*^~<>]/.test(r)) {
    return {
      ok: false,
      reason: `pinned to ${r} (a tag or version), not the branch ${branch ?? 'pushed to'}`
    }
  }
  return {
    ok: false,
    reason: `tracks ${r}, not ${branch ?? target.defaultBranch ?? 'the pushed branch'}`
  }
}

/** Helm value files a source reads from another source of the app (`$ref/path`). */
function referencedFiles(app: Application, ref: string): string[] {
  const files: string[] = []
  for (const s of app.spec.sources ?? []) {
    for (const v of s.helm?.valueFiles ?? []) {
      if (v.startsWith(`$${ref}/`)) files.push(posix.normalize(v.slice(ref.length + 2)))
    }
  }
  return files
}

function judgeSource(
  app: Application,
  source: ApplicationSource,
  target: ChangeTarget,
  repo: string
): {ok: true; reason: string} | {ok: false; reason: string} {
  if (normaliseRepoUrl(source.repoURL ?? '') !== repo) {
    return {ok: false, reason: `reads another repository (${source.repoURL})`}
  }
  if (source.chart) return {ok: false, reason: `deploys the Helm chart ${source.chart}, not a path`}
  const rev = revisionVerdict(source.targetRevision, target)
  if (!rev.ok) return rev
  const ref = typeof source.ref === 'string' ? source.ref : undefined
  if (ref && source.path === undefined) {
    const files = referencedFiles(app, ref)
    const hit = target.paths.find(p => files.includes(p))
    return hit
      ? {ok: true, reason: `its value file $${ref}/${hit} changed`}
      : {ok: false, reason: `none of its value files ($${ref}/...) changed`}
  }
  const dir = sourceDir(source.path)
  const hit = target.paths.find(p => under(dir, p))
  if (hit) {
    return {ok: true, reason: `path ${dir || '(repo root)'} holds ${hit}`}
  }
  return {ok: false, reason: `path ${dir || '(repo root)'} holds none of the changed files`}
}

/** Picks the apps that deploy `target` out of a listing; pure, for tests and benchmarks. */
export function matchApps(apps: Application[], target: ChangeTarget): Discovery {
  const repo = normaliseRepoUrl(target.repo)
  const matched: AppMatch[] = []
  const considered: Considered[] = []
  for (const app of apps) {
    const sources = app.spec.sources?.length
      ? app.spec.sources.map((s, i) => ({s, i}))
      : app.spec.source
        ? [{s: app.spec.source, i: undefined}]
        : []
    const reasons: string[] = []
    let found: AppMatch | undefined
    for (const {s, i} of sources) {
      const v = judgeSource(app, s, target, repo)
      if (v.ok) {
        found = {app, ...(i !== undefined ? {sourceIndex: i} : {}), reason: v.reason}
        break
      }
      reasons.push(v.reason)
    }
    const id = {
      name: app.metadata.name,
      ...(app.metadata.namespace ? {namespace: app.metadata.namespace} : {})
    }
    if (found) matched.push(found)
    else considered.push({...id, reason: [...new Set(reasons)].join('; ') || 'has no source'})
  }
  return {matched, considered}
}

interface ApplicationList {
  items?: Application[] | null
}

/**
 * Lists the Applications that may read `repo`. The server's `repo` filter
 * compares the URL as spelled, so it is tried first (cheap with 1,000 apps)
 * and, when it finds nothing, the whole list is matched by normalised URL.
 */
export async function listCandidateApps(
  client: ArgoClient,
  o: {repo: string; selector?: string; signal: AbortSignal}
): Promise<{apps: Application[]; filtered: boolean}> {
  const query = (repo?: string) => ({
    ...(repo ? {repo} : {}),
    ...(o.selector ? {selector: o.selector} : {})
  })
  const list = async (repo?: string) =>
    (
      await client.request<ApplicationList>('GET', '/api/v1/applications', {
        query: query(repo),
        signal: o.signal,
        doing: 'listing applications'
      })
    ).items ?? []
  const filtered = await list(o.repo)
  if (filtered.length > 0) return {apps: filtered, filtered: true}
  return {apps: await list(), filtered: false}
}
