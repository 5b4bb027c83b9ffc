import {randomBytes} from 'node:crypto'

/**
 * A token for tests, made at run time so no credential-looking literal sits in
 * the repository. The prefix is kept because the code and the doubles act on
 * it (`ghs_` App/GITHUB_TOKEN vs `ghp_` PAT, `glpat-` GitLab); the rest says
 * FAKE and is random, so a leak check can't pass by accident on a fixed value.
 */
export function fakeToken(prefix: string, label = 'test'): string {
  return `${prefix}FAKE_${label}_${randomBytes(12).toString('hex')}`
}
