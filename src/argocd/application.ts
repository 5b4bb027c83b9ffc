import type {
  Application,
  ApplicationSource,
  ApplicationSpec,
  EnvEntry,
  SyncPolicy
} from './types.js'

/** What the user asked the Application to be; every field maps to one flag. */
export interface AppSettings {
  name: string
  /** metadata.namespace; absent = the server's control-plane namespace. */
  namespace?: string
  project: string
  repo: string
  path: string
  revision: string
  destination: {server: string; namespace: string} | {name: string; namespace: string}
  /** Config management plugin; env names are unprefixed (the repo-server adds ARGOCD_ENV_). */
  plugin?: {name: string; env: EnvEntry[]}
  kustomizeImages: string[]
  helmParams: {name: string; value: string}[]
  helmValuesFiles: string[]
  /** undefined keeps what the live app has (on create: manual sync). */
  syncPolicy?: 'automated' | 'none'
  autoPrune: boolean
  selfHeal: boolean
  /** undefined keeps what the live app has. */
  syncOptions?: string[]
  labels: Record<string, string>
  annotations: Record<string, string>
  /** Keys to remove (`--label key-`); only an update through PUT can remove them. */
  removeLabels?: string[]
  removeAnnotations?: string[]
}

export const APPLICATION_API_VERSION = 'argoproj.io/v1alpha1'

function renderSource(s: AppSettings): ApplicationSource {
  const source: ApplicationSource = {repoURL: s.repo, path: s.path, targetRevision: s.revision}
  if (s.plugin) {
    source.plugin = {name: s.plugin.name}
    if (s.plugin.env.length) source.plugin.env = s.plugin.env.map(e => ({...e}))
  }
  if (s.kustomizeImages.length) source.kustomize = {images: [...s.kustomizeImages]}
  if (s.helmParams.length || s.helmValuesFiles.length) {
    source.helm = {}
    if (s.helmParams.length) source.helm.parameters = s.helmParams.map(p => ({...p}))
    if (s.helmValuesFiles.length) source.helm.valueFiles = [...s.helmValuesFiles]
  }
  return source
}

function renderAutomated(s: AppSettings): NonNullable<SyncPolicy['automated']> {
  // `false` is omitted rather than sent: Go drops it on the way back, and a
  // round-trip that differs would report a spurious update.
  const automated: NonNullable<SyncPolicy['automated']> = {}
  if (s.autoPrune) automated.prune = true
  if (s.selfHeal) automated.selfHeal = true
  return automated
}

/**
 * The Application as a manifest (declarative path, app-of-apps): exactly what
 * the flags say, nothing inherited from a live object.
 */
export function buildApplication(s: AppSettings): Application {
  const metadata: Application['metadata'] = {name: s.name}
  if (s.namespace) metadata.namespace = s.namespace
  if (Object.keys(s.labels).length) metadata.labels = {...s.labels}
  if (Object.keys(s.annotations).length) metadata.annotations = {...s.annotations}
  const spec: ApplicationSpec = {
    project: s.project,
    destination: {...s.destination},
    source: renderSource(s)
  }
  const syncPolicy: SyncPolicy = {}
  if (s.syncPolicy === 'automated') syncPolicy.automated = renderAutomated(s)
  if (s.syncOptions?.length) syncPolicy.syncOptions = [...s.syncOptions]
  if (Object.keys(syncPolicy).length) spec.syncPolicy = syncPolicy
  return {apiVersion: APPLICATION_API_VERSION, kind: 'Application', metadata, spec}
}

/**
 * The body for `POST /api/v1/applications?upsert=true`. The server replaces
 * the spec wholesale, merges labels/annotations and replaces finalizers, so
 * everything we have no flag for (ignoreDifferences, info, retry, finalizers
 * such as resources-finalizer) is carried over from the live app here, or it
 * would silently vanish. apiVersion/kind are not in the API's Application
 * schema and are left out.
 */
export function upsertBody(s: AppSettings, existing?: Application): Application {
  const desired = buildApplication(s)
  const metadata: Application['metadata'] = {name: s.name}
  const namespace = s.namespace ?? existing?.metadata.namespace
  if (namespace) metadata.namespace = namespace
  const labels: Record<string, string> = {...existing?.metadata.labels, ...s.labels}
  for (const k of s.removeLabels ?? []) delete labels[k]
  if (Object.keys(labels).length) metadata.labels = labels
  const annotations: Record<string, string> = {...existing?.metadata.annotations, ...s.annotations}
  for (const k of s.removeAnnotations ?? []) delete annotations[k]
  if (Object.keys(annotations).length) metadata.annotations = annotations
  if (existing?.metadata.finalizers?.length) metadata.finalizers = [...existing.metadata.finalizers]

  const kept: Record<string, unknown> = {...existing?.spec}
  // One source per app: a live multi-source list or hydrator would take precedence over
  // ours. The caller refuses such apps unless told to replace them (--replace-sources).
  for (const k of ['project', 'destination', 'source', 'sources', 'sourceHydrator', 'syncPolicy'])
    delete kept[k]
  const spec: ApplicationSpec = {
    ...kept,
    project: desired.spec.project,
    destination: desired.spec.destination,
    source: desired.spec.source
  }
  const syncPolicy: SyncPolicy = {...existing?.spec.syncPolicy}
  if (s.syncPolicy === 'automated') syncPolicy.automated = renderAutomated(s)
  else if (s.syncPolicy === 'none') delete syncPolicy.automated
  if (s.syncOptions) {
    if (s.syncOptions.length) syncPolicy.syncOptions = [...s.syncOptions]
    else delete syncPolicy.syncOptions
  }
  if (Object.keys(canonical(syncPolicy) as object).length || syncPolicy.automated) {
    spec.syncPolicy = syncPolicy
  }
  return {metadata, spec}
}

/**
 * JSON as Go's `omitempty` round-trips it: empty strings, false, empty lists
 * and empty maps disappear. `automated: {}` is the exception: a present but
 * empty automated policy means "auto-sync on".
 */
export function canonical(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return value.map(v => canonical(v))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(value).sort()) {
      const v = canonical((value as Record<string, unknown>)[k], k)
      // automated.enabled is a *bool in Go: an explicit false survives and turns auto-sync off.
      if (v === false && k === 'enabled') {
        out[k] = v
        continue
      }
      if (v === undefined || v === null || v === '' || v === false) continue
      if (Array.isArray(v) && v.length === 0) continue
      if (
        v &&
        typeof v === 'object' &&
        !Array.isArray(v) &&
        !Object.keys(v).length &&
        k !== 'automated'
      ) {
        continue
      }
      out[k] = v
    }
    return out
  }
  return value === null ? undefined : value
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a) ?? null) === JSON.stringify(canonical(b) ?? null)
}

export interface FieldChange {
  path: string
  before?: unknown
  after?: unknown
}

/** Named lists (env, helm parameters) are compared by name, so one changed tag reads as one change. */
function isNamedList(v: unknown): v is {name: string}[] {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.every(x => x && typeof x === 'object' && typeof (x as {name?: unknown}).name === 'string')
  )
}

function diffInto(path: string, before: unknown, after: unknown, out: FieldChange[]): void {
  if (sameJson(before, after)) return
  const isObj = (v: unknown) => !!v && typeof v === 'object' && !Array.isArray(v)
  if (isObj(before) && isObj(after)) {
    const b = before as Record<string, unknown>
    const a = after as Record<string, unknown>
    for (const k of [...new Set([...Object.keys(b), ...Object.keys(a)])].sort()) {
      diffInto(`${path}.${k}`, b[k], a[k], out)
    }
    return
  }
  if (
    (isNamedList(before) || before === undefined) &&
    (isNamedList(after) || after === undefined)
  ) {
    const b = new Map((before ?? []).map(x => [x.name, x] as const))
    const a = new Map((after ?? []).map(x => [x.name, x] as const))
    if (b.size || a.size) {
      // {name, value} entries read best as the value itself: env[IMAGE_TAG]: 1.0 -> 1.1
      const unwrap = (x?: {name: string}) => {
        if (!x) return undefined
        const {name: _n, ...rest} = x as Record<string, unknown>
        const keys = Object.keys(rest)
        return keys.length === 1 && keys[0] === 'value' ? rest.value : rest
      }
      for (const k of [...new Set([...b.keys(), ...a.keys()])]) {
        diffInto(`${path}[${k}]`, unwrap(b.get(k)), unwrap(a.get(k)), out)
      }
      return
    }
  }
  const c = (v: unknown) => canonical(v)
  const change: FieldChange = {path}
  if (c(before) !== undefined) change.before = c(before)
  if (c(after) !== undefined) change.after = c(after)
  out.push(change)
}

/** Fields of the live app that the write replaces; [] means the write is a no-op. */
export function changedFields(existing: Application, body: Application): FieldChange[] {
  const out: FieldChange[] = []
  diffInto('metadata.labels', existing.metadata.labels, body.metadata.labels, out)
  diffInto('metadata.annotations', existing.metadata.annotations, body.metadata.annotations, out)
  diffInto('metadata.finalizers', existing.metadata.finalizers, body.metadata.finalizers, out)
  diffInto('spec', existing.spec, body.spec, out)
  return out
}

export function formatChange(c: FieldChange): string {
  const show = (v: unknown) => {
    if (v === undefined) return '(unset)'
    const s = typeof v === 'string' ? v : JSON.stringify(v)
    return s.length > 80 ? `${s.slice(0, 77)}...` : s
  }
  return `${c.path}: ${show(c.before)} -> ${show(c.after)}`
}

/** The Argo CD UI page of the app; the path always carries the app's namespace. */
export function appUrl(
  server: string,
  app: Application | {name: string; namespace?: string}
): string {
  const meta = 'metadata' in app ? app.metadata : app
  const ns = meta.namespace || 'argocd'
  return `${server.replace(/\/+$/, '')}/applications/${encodeURIComponent(ns)}/${encodeURIComponent(meta.name)}`
}
