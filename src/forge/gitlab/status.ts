/** What to do about a GitLab API error status (shared by the forge and the API transport). */
export function gitLabStatusFix(status: number): string {
  return status === 401
    ? 'set GITOPS_TOKEN to a valid token with the api scope'
    : status === 403
      ? 'give the token the api scope and at least the Developer role on the project'
      : status === 404
        ? 'check the repository URL and that the token can see the project'
        : 'retry later; if it persists, check the GitLab instance'
}
