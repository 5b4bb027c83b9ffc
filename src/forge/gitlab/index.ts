import type {ForgeProvider} from '../forge-provider.js'
import {GitLabRepoApi} from './commits.js'
import {GitLabForge} from './pulls.js'

/** GitLab: merge requests and commit reads through @gitbeaker/rest (client.ts), commits through the commits API. */
export const gitlab: ForgeProvider = {
  kind: 'gitlab',
  name: 'GitLab',
  pulls: (t, token, log) =>
    new GitLabForge({apiUrl: t.apiUrl, repoPath: t.repoPath, token, log}),
  commits: (t, token) => new GitLabRepoApi({apiUrl: t.apiUrl, project: t.repoPath, token}),
  hostLooksLike: host => /gitlab/i.test(host),
  commitUrl: (webUrl, sha) => `${webUrl}/-/commit/${sha}`,
  verificationAdvice: (commit, branch, v) =>
    `commit ${commit} landed on ${branch} but GitLab reports no verified signature (${v?.reason ?? 'unknown'}); GitLab documents instance-key signing for commits made in its UI, not for API commits — drop --require-verified or push signed commits yourself`,
  unsignedTokenKind: () => undefined,
  capabilities: {
    teamReviewers: false,
    rebaseAutoMerge: false,
    apiCommitAuthor: true,
    cheapVerification: false
  }
}
