import {describe, expect, it} from 'vitest'
import {
  classifyPush,
  classifyRemoteFailure,
  isTransient,
  pushDetail
} from '../../src/git/push-result.js'

// stderr/stdout as printed by git 2.39 against git receive-pack (captured in
// this repo's tests) and as documented in GitHub/GitLab issue threads.
const porcelain = (line: string) => `To https://example.com/config.git\n${line}\nDone\n`

describe('classifyPush', () => {
  it('treats exit 0 with no rejected ref as pushed', () => {
    const r = classifyPush({
      code: 0,
      stdout: porcelain(' \tHEAD:refs/heads/main\t598dcb9..796d5ba'),
      stderr: ''
    })
    expect(r).toEqual({kind: 'pushed'})
  })

  it('recognises a push of a commit the branch already points at', () => {
    const r = classifyPush({
      code: 0,
      stdout: porcelain('=\tHEAD:refs/heads/main\t[up to date]'),
      stderr: ''
    })
    expect(r).toEqual({kind: 'up-to-date'})
  })

  const moved: [string, string, string][] = [
    [
      'fetch first (remote has commits we lack)',
      porcelain('!\tHEAD:refs/heads/main\t[rejected] (fetch first)'),
      "error: failed to push some refs to 'file:///tmp/x/remote.git'\nhint: Updates were rejected because the remote contains work that you do\nhint: not have locally."
    ],
    [
      'non-fast-forward',
      porcelain('!\tHEAD:refs/heads/main\t[rejected] (non-fast-forward)'),
      "error: failed to push some refs to 'x'\nhint: Updates were rejected because the tip of your current branch is behind"
    ],
    ['stale info (lease)', porcelain('!\tHEAD:refs/heads/main\t[rejected] (stale info)'), ''],
    [
      'receive-pack lock race',
      porcelain('!\tHEAD:refs/heads/main\t[remote rejected] (failed to update ref)'),
      "remote: error: cannot lock ref 'refs/heads/main': is at 796d5ba74bf05f965e037bc86bb9675315cebcec but expected 598dcb9a24d717931cd676c0b95f1a2622ed90f1        \nerror: failed to push some refs to 'file:///tmp/x/remote.git'"
    ],
    [
      "GitHub's cannot lock ref",
      '',
      "To https://github.com/acme/config.git\n ! [remote rejected] main -> main (cannot lock ref 'refs/heads/main': is at 1111111111111111111111111111111111111111 but expected 2222222222222222222222222222222222222222)\nerror: failed to push some refs to 'https://github.com/acme/config.git'"
    ],
    [
      "GitLab's incorrect old value",
      '',
      "To https://gitlab.com/acme/config.git\n ! [remote rejected] main -> main (incorrect old value provided)\nerror: failed to push some refs to 'https://gitlab.com/acme/config.git'"
    ]
  ]
  for (const [name, stdout, stderr] of moved) {
    it(`classifies ${name} as moved`, () => {
      const r = classifyPush({code: 1, stdout, stderr})
      expect(r.kind).toBe('rejected')
      expect(r.kind === 'rejected' && r.reason).toBe('moved')
    })
  }

  it('keeps the server message and drops hints in the detail', () => {
    const r = classifyPush({code: 1, stdout: moved[3][1], stderr: moved[3][2]})
    expect(r.kind === 'rejected' && r.detail).toContain('cannot lock ref')
    expect(r.kind === 'rejected' && r.detail).toContain('[remote rejected] (failed to update ref)')
    const hinted = classifyPush({code: 1, stdout: moved[0][1], stderr: moved[0][2]})
    expect(hinted.kind === 'rejected' && hinted.detail).not.toContain('hint:')
  })

  it('classifies GitHub branch protection as protected, not moved', () => {
    const r = classifyPush({
      code: 1,
      stdout: '',
      stderr:
        'remote: error: GH006: Protected branch update failed for refs/heads/main.\nremote: error: Changes must be made through a pull request.\nTo https://github.com/acme/config.git\n ! [remote rejected] main -> main (protected branch hook declined)\nerror: failed to push some refs'
    })
    expect(r).toMatchObject({kind: 'rejected', reason: 'protected'})
    expect(r.kind === 'rejected' && r.detail).toContain(
      'Changes must be made through a pull request'
    )
  })

  it('classifies GitLab protected branches as protected, not auth', () => {
    const r = classifyPush({
      code: 1,
      stdout: '',
      stderr:
        'remote: GitLab: You are not allowed to push code to protected branches on this project.\nTo https://gitlab.com/acme/config.git\n ! [remote rejected] main -> main (pre-receive hook declined)'
    })
    expect(r).toMatchObject({kind: 'rejected', reason: 'protected'})
  })

  it('classifies GitHub rulesets as protected', () => {
    const r = classifyPush({
      code: 1,
      stdout: '',
      stderr:
        'remote: error: GH013: Repository rule violations found for refs/heads/main.\n ! [remote rejected] main -> main (push declined due to repository rule violations)'
    })
    expect(r).toMatchObject({kind: 'rejected', reason: 'protected'})
  })

  it('classifies other pre-receive hooks as hook-declined', () => {
    const r = classifyPush({
      code: 1,
      stdout: '',
      stderr:
        'remote: file too large\n ! [remote rejected] main -> main (pre-receive hook declined)'
    })
    expect(r).toMatchObject({kind: 'rejected', reason: 'hook-declined'})
  })

  it('classifies an unknown rejection as other', () => {
    const r = classifyPush({
      code: 1,
      stdout: porcelain('!\tHEAD:refs/heads/main\t[remote rejected] (frobnicator unhappy)'),
      stderr: ''
    })
    expect(r).toMatchObject({kind: 'rejected', reason: 'other'})
  })

  it('classifies "shallow update not allowed" (history rewritten under us) as moved: fetch and retry', () => {
    const r = classifyPush({
      code: 1,
      stdout: porcelain('!\tHEAD:refs/heads/main\t[remote rejected] (shallow update not allowed)'),
      stderr: ''
    })
    expect(r).toMatchObject({kind: 'rejected', reason: 'moved'})
  })

  it('classifies 429 as transient and a refused redirect as redirected', () => {
    expect(
      classifyRemoteFailure(
        "fatal: unable to access 'https://h/x/': The requested URL returned error: 429\n"
      )
    ).toMatchObject({kind: 'error', reason: 'transient'})
    expect(
      classifyRemoteFailure(
        "fatal: unable to access 'https://h/x/': The requested URL returned error: 302\n"
      )
    ).toMatchObject({kind: 'error', reason: 'redirected'})
  })

  const auth: [string, string, number][] = [
    [
      'GitHub bad token',
      "remote: Invalid username or token. Password authentication is not supported for Git operations.\nfatal: Authentication failed for 'https://github.com/acme/config.git/'",
      401
    ],
    [
      'GitHub read-only token',
      "remote: Permission to acme/config.git denied to ci-bot.\nfatal: unable to access 'https://github.com/acme/config.git/': The requested URL returned error: 403",
      403
    ],
    [
      'GitHub fine-grained without contents:write',
      "remote: Write access to repository not granted.\nfatal: unable to access 'https://github.com/acme/config.git/': The requested URL returned error: 403",
      403
    ],
    [
      'GitLab wrong token',
      "remote: HTTP Basic: Access denied. If a password was provided for Git authentication, the password was incorrect or you're required to use a token instead of a password.\nfatal: Authentication failed for 'https://gitlab.com/acme/config.git/'",
      401
    ],
    [
      'GitLab read_repository-only token',
      "remote: You are not allowed to push code to this project.\nfatal: unable to access 'https://gitlab.com/acme/config.git/': The requested URL returned error: 403",
      403
    ]
  ]
  for (const [name, stderr, status] of auth) {
    it(`classifies ${name} as auth-failed ${status}`, () => {
      expect(classifyPush({code: 128, stdout: '', stderr})).toMatchObject({
        kind: 'auth-failed',
        status
      })
    })
  }

  it('classifies SSH key problems as auth-failed', () => {
    const r = classifyPush({
      code: 128,
      stdout: '',
      stderr:
        'git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.'
    })
    expect(r.kind).toBe('auth-failed')
  })

  // stderr as git 2.4x prints it against GitHub, GitLab and smart HTTP.
  const transient: [string, string][] = [
    [
      'connection dropped mid-push',
      'error: RPC failed; curl 52 Empty reply from server\nsend-pack: unexpected disconnect while reading sideband packet\nfatal: the remote end hung up unexpectedly'
    ],
    [
      '502 from the load balancer',
      'error: RPC failed; HTTP 502 curl 22 The requested URL returned error: 502\nfatal: the remote end hung up unexpectedly'
    ],
    [
      '503 on info/refs',
      "fatal: unable to access 'https://github.com/acme/config.git/': The requested URL returned error: 503"
    ],
    [
      'HTTP/2 stream reset',
      'error: RPC failed; curl 92 HTTP/2 stream 5 was not closed cleanly: CANCEL (err 8)\nsend-pack: unexpected disconnect while reading sideband packet\nfatal: the remote end hung up unexpectedly\nEverything up-to-date'
    ],
    [
      'connection reset',
      "fatal: unable to access 'https://gitlab.com/acme/config.git/': Recv failure: Connection reset by peer"
    ],
    [
      'early EOF',
      'error: 6731 bytes of body are still expected\nfetch-pack: unexpected disconnect while reading sideband packet\nfatal: early EOF\nfatal: fetch-pack: invalid index-pack output'
    ],
    [
      'connect timeout',
      "fatal: unable to access 'https://github.com/acme/config.git/': Failed to connect to github.com port 443 after 130000 ms: Connection timed out"
    ],
    [
      'stalled transfer',
      "fatal: unable to access 'https://github.com/acme/config.git/': Operation too slow. Less than 1000 bytes/sec transferred the last 60 seconds"
    ],
    ['no status report', ' ! [remote failure] main -> main (remote failed to report status)']
  ]
  for (const [name, stderr] of transient) {
    it(`classifies ${name} as transient (retried)`, () => {
      expect(classifyPush({code: 1, stdout: '', stderr})).toMatchObject({
        kind: 'error',
        reason: 'transient'
      })
    })
  }

  const network: [string, string][] = [
    [
      'server gone',
      "fatal: unable to access 'http://127.0.0.1:1/config.git/': Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server"
    ],
    [
      'refused',
      "fatal: unable to access 'https://git.example.com/config.git/': Failed to connect to git.example.com port 443 after 3 ms: Connection refused"
    ],
    [
      'unknown host',
      "fatal: unable to access 'https://nowhere.invalid/x.git/': Could not resolve host: nowhere.invalid"
    ],
    [
      'bad certificate',
      "fatal: unable to access 'https://git.internal/config.git/': SSL certificate problem: self-signed certificate in certificate chain"
    ]
  ]
  for (const [name, stderr] of network) {
    it(`classifies ${name} as unreachable (not retried)`, () => {
      expect(classifyPush({code: 1, stdout: '', stderr})).toMatchObject({
        kind: 'error',
        reason: 'network'
      })
    })
  }

  const final: [string, string, string][] = [
    [
      '401',
      "remote: Invalid username or token.\nfatal: Authentication failed for 'https://github.com/acme/config.git/'",
      'auth-failed'
    ],
    [
      '403',
      "fatal: unable to access 'https://github.com/acme/config.git/': The requested URL returned error: 403",
      'auth-failed'
    ],
    [
      '404',
      "remote: Repository not found.\nfatal: repository 'https://github.com/acme/nope.git/' not found",
      'error'
    ]
  ]
  for (const [name, stderr, kind] of final) {
    it(`never treats ${name} as transient`, () => {
      const r = classifyPush({code: 128, stdout: '', stderr})
      expect(r.kind).toBe(kind)
      expect(isTransient(r)).toBe(false)
      expect(isTransient(classifyRemoteFailure(stderr))).toBe(false)
    })
  }
})

describe('classifyRemoteFailure', () => {
  it('recognises a missing branch and a missing repository', () => {
    expect(
      classifyRemoteFailure(
        'warning: Could not find remote branch nope to clone.\nfatal: Remote branch nope not found in upstream origin'
      )
    ).toMatchObject({kind: 'error', reason: 'not-found'})
    expect(
      classifyRemoteFailure(
        "fatal: '/tmp/x/missing.git' does not appear to be a git repository\nfatal: Could not read from remote repository."
      )
    ).toMatchObject({kind: 'error', reason: 'not-found'})
    expect(
      classifyRemoteFailure(
        "remote: Repository not found.\nfatal: repository 'https://github.com/acme/nope.git/' not found"
      )
    ).toMatchObject({kind: 'error', reason: 'not-found'})
  })

  it('recognises auth failures with their status', () => {
    expect(
      classifyRemoteFailure("fatal: Authentication failed for 'http://127.0.0.1:9/c.git/'")
    ).toMatchObject({
      kind: 'auth-failed',
      status: 401
    })
  })

  it('does not take a deliberate refusal followed by a hang-up for a transient failure', () => {
    // git upload-pack over file:// when --shallow-exclude selects nothing (a merged PR branch).
    const stderr =
      'fatal: no commits selected for shallow requests\nfatal: the remote end hung up unexpectedly\n'
    expect(classifyRemoteFailure(stderr)).toMatchObject({kind: 'error', reason: 'unknown'})
    expect(classifyRemoteFailure('fatal: the remote end hung up unexpectedly\n')).toMatchObject({
      reason: 'transient'
    })
  })

  it('falls back to unknown with the last lines as detail', () => {
    const r = classifyRemoteFailure('fatal: something odd\n')
    expect(r).toEqual({kind: 'error', reason: 'unknown', detail: 'fatal: something odd'})
  })
})

describe('pushDetail', () => {
  it('drops progress and hint noise', () => {
    const text = 'Enumerating objects: 5, done.\nhint: do a pull\nremote: error: nope\nDone\n'
    expect(pushDetail(text)).toBe('remote: error: nope')
  })
})
