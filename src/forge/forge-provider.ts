/**
 * What a forge plugs in: one record per forge (forge/<name>/index.ts), listed
 * once in forge/registry.ts. Nothing outside forge/ asks which forge it is
 * talking to; it asks the record.
 */
import type {Forge, ForgeLog as ForgeLogSink} from './forge.js'
import type {ForgeTarget, ProviderKind} from './provider.js'
import type {BranchApi, Verification} from './repo-api.js'

export type {ForgeLog as ForgeLogSink} from './forge.js'

export interface ForgeProvider {
  kind: ProviderKind
  /** For messages: `GitHub`. */
  name: string
  /** The pull/merge request client. */
  pulls(target: ForgeTarget, token: string, log: ForgeLogSink): Forge
  /** The commit API client (the API transport); `msPerSecond` shrinks pacing in tests and benchmarks. */
  commits(target: ForgeTarget, token: string, log: ForgeLogSink, msPerSecond?: number): BranchApi
  /** A host whose name says it is this forge (commit links when the provider was not resolved). */
  hostLooksLike(host: string): boolean
  /** Link to one commit in the web UI. */
  commitUrl(webUrl: string, sha: string): string
  /** Why a landed commit fails --require-verified, with the fix. */
  verificationAdvice(commit: string, branch: string, verification: Verification | undefined): string
  /** A token this forge never signs API commits for (refused up front under --require-verified). */
  unsignedTokenKind(token: string): string | undefined
  capabilities: {
    /** Team reviewers (GitHub) exist. */
    teamReviewers: boolean
    /** --auto-merge rebase can be asked for (GitLab takes the method from the project). */
    rebaseAutoMerge: boolean
    /** API commits honour --author (GitHub's createCommitOnBranch has no author field). */
    apiCommitAuthor: boolean
    /** The forge reports a commit's signature for one cheap request: asked even when not required. */
    cheapVerification: boolean
  }
}
