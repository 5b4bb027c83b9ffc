/**
 * The slice of the Argo CD Application we send and read, hand-written from
 * the swagger subset (/work/shared/reference/argocd-swagger-subset.json).
 * Field names are the k8s camelCase of the CRD; int64 fields arrive as strings.
 */

export interface EnvEntry {
  name: string
  value: string
}

export interface ApplicationSource {
  repoURL: string
  path?: string
  targetRevision?: string
  plugin?: {name?: string; env?: EnvEntry[]; parameters?: unknown[]}
  kustomize?: {images?: string[]; [k: string]: unknown}
  helm?: {
    parameters?: {name: string; value: string; forceString?: boolean}[]
    valueFiles?: string[]
    [k: string]: unknown
  }
  directory?: Record<string, unknown>
  chart?: string
  [k: string]: unknown
}

export interface ApplicationDestination {
  server?: string
  name?: string
  namespace?: string
}

export interface SyncPolicy {
  automated?: {prune?: boolean; selfHeal?: boolean; allowEmpty?: boolean; enabled?: boolean}
  syncOptions?: string[]
  retry?: unknown
  managedNamespaceMetadata?: unknown
}

export interface ApplicationSpec {
  project: string
  source?: ApplicationSource
  /** A multi-source app: each source is matched on its own. */
  sources?: ApplicationSource[]
  destination: ApplicationDestination
  syncPolicy?: SyncPolicy
  [k: string]: unknown
}

export interface ObjectMeta {
  name: string
  namespace?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  finalizers?: string[]
  resourceVersion?: string
  generation?: string | number
  creationTimestamp?: string
  uid?: string
}

export interface HealthStatus {
  status?: string
  message?: string
}

export interface ResourceStatus {
  group?: string
  version?: string
  kind?: string
  namespace?: string
  name?: string
  status?: string
  health?: HealthStatus
  hook?: boolean
  requiresPruning?: boolean
}

export interface ResourceResult {
  group?: string
  version?: string
  kind?: string
  namespace?: string
  name?: string
  status?: string
  message?: string
  hookPhase?: string
  syncPhase?: string
}

export interface OperationState {
  phase?: string
  message?: string
  startedAt?: string
  finishedAt?: string
  operation?: unknown
  syncResult?: {
    revision?: string
    revisions?: string[]
    source?: ApplicationSource
    resources?: ResourceResult[]
  }
}

export interface ApplicationStatus {
  sync?: {
    status?: string
    revision?: string
    /** A multi-source app: one resolved revision per entry of spec.sources. */
    revisions?: string[]
    comparedTo?: {
      source?: ApplicationSource
      sources?: ApplicationSource[]
      destination?: ApplicationDestination
    }
  }
  health?: HealthStatus
  operationState?: OperationState
  conditions?: {type?: string; message?: string; lastTransitionTime?: string}[]
  resources?: ResourceStatus[]
  reconciledAt?: string
  [k: string]: unknown
}

export interface Application {
  apiVersion?: string
  kind?: string
  metadata: ObjectMeta
  spec: ApplicationSpec
  operation?: unknown
  status?: ApplicationStatus
}
