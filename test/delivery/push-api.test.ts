import {describe, expect, it} from 'vitest'
import {apiWrite} from '../../src/delivery/push-api.js'
import type {CommitAttempt, RepoApi} from '../../src/forge/repo-api.js'

/**
 * The order of one API write's steps on a lost race. GitHub paces writes 1 s
 * apart per client; the wait must come before the tip is read, or the
 * retry commits on a tip that is a second old. A recording RepoApi shows the
 * order (the HTTP behaviour itself is covered against the GitHub double in
 * test/transport/github.test.ts).
 */
describe('apiWrite retry order', () => {
  it('takes the write slot before reading the new tip, not between the read and the commit', async () => {
    const calls: string[] = []
    let tip = 'a'.repeat(40)
    const answers: CommitAttempt[] = [
      {kind: 'stale', detail: 'moved'},
      {kind: 'committed', commit: 'c'.repeat(40)}
    ]
    const api: RepoApi = {
      provider: 'github',
      where: 'test',
      stats: {requests: 0},
      defaultBranch: async () => 'main',
      branchHead: async () => {
        calls.push('read tip')
        return tip
      },
      listDir: async () => [],
      listTree: async () => ({kind: 'listed', entries: []}),
      readFile: async () => undefined,
      commit: async () => {
        calls.push('commit')
        const answer = answers.shift()!
        if (answer.kind === 'stale') tip = 'b'.repeat(40)
        return answer
      },
      verification: async () => undefined,
      writeSlot: async () => void calls.push('write slot')
    }
    const result = await apiWrite({
      api,
      branch: 'main',
      planner: {
        plan: async () => ({
          outcome: {changed: true, files: [{file: 'x.yaml'}]},
          writes: [{path: 'x.yaml', content: Buffer.from('x\n')}]
        })
      },
      message: () => 'm\n',
      author: {name: 'b', email: 'b@example.com'},
      maxAttempts: 3,
      dryRun: false,
      checkVerification: false,
      backoff: {baseMs: 1, capMs: 1, sleep: async () => undefined}
    })
    expect(result).toMatchObject({kind: 'pushed', attempts: 2})
    expect(calls).toEqual(['read tip', 'commit', 'write slot', 'read tip', 'commit'])
  })
})
