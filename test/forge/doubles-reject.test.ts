import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {GitHubDouble} from '../doubles/github-double.js'
import {GitLabDouble} from '../doubles/gitlab-double.js'
import type {BareRepo} from '../helpers/git-fixtures.js'
import {TOKEN, configRepo} from './helpers.js'

/**
 * The doubles are only worth their green runs if they refuse what the real
 * APIs refuse: a double that accepts anything would hide a mistyped route,
 * field or parameter in the code under test. Each case sends one bad request
 * and checks both the status the client sees and the recorded violation.
 */

let repo: BareRepo

beforeAll(async () => {
  repo = await configRepo()
})

afterAll(async () => {
  await repo.cleanup()
})

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {Authorization: `token ${TOKEN}`}
): Promise<{status: number; json: unknown}> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {...headers, 'content-type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  return {status: res.status, json: text ? JSON.parse(text) : undefined}
}

describe('GitHub double checks every REST request against @octokit/openapi', () => {
  let gh: GitHubDouble
  beforeAll(async () => {
    gh = await GitHubDouble.start({
      token: TOKEN,
      repos: [{owner: 'acme', repo: 'config', gitDir: repo.dir}]
    })
  })
  afterAll(async () => {
    await gh.close()
  })

  const pull = {head: 'feature', base: 'main', title: 't', body: 'b'}

  it('accepts a request GitHub would accept (the validator is not a blanket refusal)', async () => {
    const before = gh.violations.length
    const r = await call(gh.apiUrl, 'GET', '/repos/acme/config/pulls?state=open&per_page=100')
    expect(r.status).toBe(200)
    expect(r.json).toEqual([])
    expect(gh.violations.slice(before)).toEqual([])
  })

  it.each([
    [
      'an undeclared body field',
      'POST',
      '/repos/acme/config/pulls',
      {...pull, drafty: true},
      422,
      /pulls\/create: .*must NOT have additional properties/
    ],
    [
      'a body field of the wrong type',
      'POST',
      '/repos/acme/config/pulls',
      {...pull, draft: 'yes'},
      422,
      /pulls\/create: .*draft.*must be boolean/
    ],
    [
      'a missing required body field',
      'POST',
      '/repos/acme/config/pulls',
      {head: 'feature', title: 't'},
      422,
      /pulls\/create: .*must have required property 'base'/
    ],
    [
      'an unknown query parameter',
      'GET',
      '/repos/acme/config/pulls?stat=open',
      undefined,
      422,
      /unknown query parameter 'stat' for pulls\/list/
    ],
    [
      'a query parameter outside its enum',
      'GET',
      '/repos/acme/config/pulls?state=merged',
      undefined,
      422,
      /query parameter 'state'="merged"/
    ],
    [
      'a path parameter of the wrong type',
      'GET',
      '/repos/acme/config/pulls/abc',
      undefined,
      422,
      /path parameter 'pull_number'="abc"/
    ],
    [
      'a route GitHub does not have',
      'POST',
      '/repos/acme/config/pull-requests',
      pull,
      404,
      /no GitHub operation for POST \/repos\/acme\/config\/pull-requests/
    ],
    [
      'a method the route does not take',
      'DELETE',
      '/repos/acme/config/pulls',
      undefined,
      404,
      /no GitHub operation for DELETE/
    ]
  ])('rejects %s', async (_what, method, path, body, status, violation) => {
    const before = gh.violations.length
    const pullsBefore = gh.pulls.length
    const r = await call(gh.apiUrl, method, path, body)
    expect(r.status).toBe(status)
    const added = gh.violations.slice(before)
    expect(added).toHaveLength(1)
    expect(added[0]).toMatch(violation)
    // Refused before any state changed.
    expect(gh.pulls).toHaveLength(pullsBefore)
    gh.violations.length = before
  })

  it('rejects a wrong token with 401 Bad credentials', async () => {
    const r = await call(gh.apiUrl, 'GET', '/repos/acme/config', undefined, {
      Authorization: 'token not-the-token'
    })
    expect(r.status).toBe(401)
    expect(r.json).toMatchObject({message: 'Bad credentials'})
  })

  it('records a GraphQL operation it does not know as a violation', async () => {
    const before = gh.violations.length
    const r = await call(gh.origin, 'POST', '/api/graphql', {query: 'query { viewer { login } }'})
    expect(r.status).toBe(200)
    expect(r.json).toMatchObject({errors: [{message: expect.any(String)}]})
    expect(gh.violations.slice(before)).toEqual([
      expect.stringMatching(/graphql operation not supported by the double/)
    ])
    gh.violations.length = before
  })
})

describe('GitLab double checks every request against the documented parameters', () => {
  let gl: GitLabDouble
  beforeAll(async () => {
    gl = await GitLabDouble.start({
      token: TOKEN,
      projects: [{id: 42, path: 'acme/config', gitDir: repo.dir}]
    })
  })
  afterAll(async () => {
    await gl.close()
  })

  const auth = {'PRIVATE-TOKEN': TOKEN}
  const mr = {source_branch: 'feature', target_branch: 'main', title: 't'}

  it('accepts a documented request', async () => {
    const before = gl.violations.length
    const r = await call(
      gl.apiUrl,
      'GET',
      '/projects/42/merge_requests?state=opened',
      undefined,
      auth
    )
    expect(r.status).toBe(200)
    expect(gl.violations.slice(before)).toEqual([])
  })

  it.each([
    [
      'an undocumented parameter',
      'POST',
      '/projects/42/merge_requests',
      {...mr, draft_mode: true},
      /draft_mode/
    ],
    [
      'a parameter of the wrong type',
      'POST',
      '/projects/42/merge_requests',
      {...mr, squash: 'yes'},
      /squash/
    ],
    [
      'a missing required parameter',
      'POST',
      '/projects/42/merge_requests',
      {source_branch: 'feature', title: 't'},
      /target_branch/
    ],
    [
      'an endpoint GitLab does not have',
      'POST',
      '/projects/42/pull_requests',
      mr,
      /no GitLab endpoint POST \/projects\/42\/pull_requests/
    ]
  ])('rejects %s', async (_what, method, path, body, violation) => {
    const before = gl.violations.length
    const r = await call(gl.apiUrl, method, path, body, auth)
    expect([400, 404]).toContain(r.status)
    const added = gl.violations.slice(before)
    expect(added).toHaveLength(1)
    expect(added[0]).toMatch(violation)
    gl.violations.length = before
  })

  it('rejects a wrong token with 401', async () => {
    const r = await call(gl.apiUrl, 'GET', '/projects/42', undefined, {'PRIVATE-TOKEN': 'nope'})
    expect(r.status).toBe(401)
  })
})
