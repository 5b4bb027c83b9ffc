import type {ForgeProvider} from '../forge-provider.js'
import {GitHubRepoApi} from './commits.js'
import {GitHubForge} from './pulls.js'

export const GITHUB_VERIFIED_FIX =
  "use the workflow's GITHUB_TOKEN (permissions: contents: write) or a GitHub App installation token (e.g. actions/create-github-app-token) in GITOPS_TOKEN: GitHub signs API commits made with those"

/** GitHub: REST + GraphQL through @octokit (pulls and createCommitOnBranch). */
export const github: ForgeProvider = {
  kind: 'github',
  name: 'GitHub',
  pulls: (t, token, log) => new GitHubForge({apiUrl: t.apiUrl, repoPath: t.repoPath, token, log}),
  commits: (t, token, log, msPerSecond) =>
    new GitHubRepoApi(
      new GitHubForge({apiUrl: t.apiUrl, repoPath: t.repoPath, token, log, msPerSecond}),
      `${t.apiUrl} (${t.repoPath})`
    ),
  hostLooksLike: host => /github/i.test(host),
  commitUrl: (webUrl, sha) => `${webUrl}/commit/${sha}`,
  verificationAdvice: (commit, branch, v) =>
    `commit ${commit} landed on ${branch} but GitHub did not verify it (reason: ${v?.reason ?? 'unknown'}); branches that require signed commits will refuse it. ${GITHUB_VERIFIED_FIX.charAt(0).toUpperCase()}${GITHUB_VERIFIED_FIX.slice(1)}`,
  // Token kinds GitHub never signs API commits for (prefixes per GitHub's token formats).
  unsignedTokenKind(token) {
    if (token.startsWith('github_pat_')) return 'a fine-grained personal access token'
    if (token.startsWith('ghp_')) return 'a classic personal access token'
    if (token.startsWith('gho_')) return 'an OAuth app token'
    return undefined
  },
  capabilities: {
    teamReviewers: true,
    rebaseAutoMerge: true,
    apiCommitAuthor: false,
    cheapVerification: true
  }
}
