import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {resolveCiContext} from '../../src/changes/ci-context.js'
import {detectChanges} from '../../src/changes/detect.js'
import {createFilter} from '../../src/changes/filter.js'
import {parseTagFormat} from '../../src/changes/tag-format.js'
import {execGit} from '../../src/git/exec.js'
import {cli} from '../helpers/cli.js'
import {
  fixture,
  git,
  githubEnv,
  importCommits,
  manyFiles,
  tempDir,
  remove,
  type CommitSpec,
  type Fixture
} from './repo.js'
import {fakeToken} from '../helpers/fake-token.js'

const ZERO = '0'.repeat(40)
const BUILD = ['--build-paths', 'src/**', '--build-paths', 'Dockerfile']

const ROOT: CommitSpec = {
  files: {
    'src/app.ts': 'v0\n',
    'src/README.md': 'about the code\n',
    Dockerfile: 'FROM scratch\n',
    'deploy/app.yaml': 'image: app:0\n',
    'README.md': 'hello\n'
  }
}
const src = (v: string): CommitSpec => ({files: {'src/app.ts': `${v}\n`}})
const manifest = (v: string): CommitSpec => ({files: {'deploy/app.yaml': `image: app:${v}\n`}})

interface Run {
  code: number
  json: {
    build: boolean
    imageTag: string
    sourceCommit: string
    base: string | null
    head: string
    changedFiles: number | null
    matchedFiles: string[]
    reason: string
    failOpen: boolean
    fetches: number
  }
  stderr: string
  stdout: string
}

async function changes(cwd: string, env: Record<string, string>, ...args: string[]): Promise<Run> {
  const run = await cli(['changes', '-C', cwd, '--json', ...(args.length ? args : BUILD)], env)
  return {...run, json: run.code === 0 ? JSON.parse(run.stdout) : undefined}
}

const fixtures: Fixture[] = []
async function repo(commits: CommitSpec[]) {
  const f = await fixture(commits)
  fixtures.push(f)
  return f
}
afterEach(() => {
  while (fixtures.length) fixtures.pop()!.cleanup()
})

const push = (f: Fixture, before: string, after: string, extra: Record<string, string> = {}) =>
  githubEnv(
    f.dir,
    'push',
    {before, after, repository: {default_branch: 'main'}},
    {
      GITHUB_SHA: after,
      GITHUB_REF: 'refs/heads/main',
      GITHUB_REF_NAME: 'main',
      GITHUB_REF_TYPE: 'branch',
      ...extra
    }
  )

describe('GitHub push', () => {
  it('a source change builds and tags head', async () => {
    const f = await repo([ROOT, src('v1')])
    const [root, c1] = f.shas
    const r = await changes(await f.clone({depth: 1}), push(f, root, c1))
    expect(r.code).toBe(0)
    expect(r.json).toMatchObject({
      build: true,
      failOpen: false,
      imageTag: c1,
      sourceCommit: c1,
      base: root,
      head: c1
    })
    expect(r.json.changedFiles).toBe(1)
    expect(r.json.matchedFiles).toEqual(['src/app.ts'])
    expect(r.json.reason).toContain('1 of 1 files changed')
  })

  it("a manifest-only change skips the build and names the last source commit's image", async () => {
    const f = await repo([ROOT, src('v1'), manifest('1')])
    const [, c1, c2] = f.shas
    const r = await changes(await f.clone({depth: 1}), push(f, c1, c2))
    expect(r.json).toMatchObject({
      build: false,
      imageTag: c1,
      sourceCommit: c1,
      base: c1,
      head: c2,
      changedFiles: 1
    })
    expect(r.json.matchedFiles).toEqual([])
    expect(r.json.reason).toContain('none of the 1 files changed')
  })

  it('a mixed commit builds', async () => {
    const f = await repo([
      ROOT,
      src('v1'),
      {files: {'src/app.ts': 'v2\n', 'deploy/app.yaml': 'x\n'}}
    ])
    const [, c1, c2] = f.shas
    const r = await changes(await f.clone({depth: 1}), push(f, c1, c2))
    expect(r.json).toMatchObject({
      build: true,
      imageTag: c2,
      changedFiles: 2,
      matchedFiles: ['src/app.ts']
    })
  })

  it('a push of a source commit then a manifest commit tags the source commit, so later pushes find it', async () => {
    const f = await repo([ROOT, src('v1'), manifest('1')])
    const [root, c1, c2] = f.shas
    const first = await changes(await f.clone({depth: 1}), push(f, root, c2))
    expect(first.json).toMatchObject({build: true, imageTag: c1, sourceCommit: c1, head: c2})
    // The next manifest-only push must name exactly the image the first run built.
    const [c3] = await importCommits(f.upstream, [{...manifest('2'), from: c2}])
    const next = await changes(await f.clone({depth: 1}), push(f, c2, c3))
    expect(next.json).toMatchObject({build: false, imageTag: first.json.imageTag})
  })

  it('ignore globs keep matching files from triggering a build', async () => {
    const f = await repo([ROOT, src('v1'), {files: {'src/README.md': 'changed\n'}}])
    const [, c1, c2] = f.shas
    const checkout = await f.clone({depth: 1})
    const ignored = await changes(checkout, push(f, c1, c2), ...BUILD, '--ignore-paths', '**/*.md')
    expect(ignored.json).toMatchObject({build: false, imageTag: c1})
    const counted = await changes(checkout, push(f, c1, c2))
    expect(counted.json).toMatchObject({build: true, imageTag: c2})
  })

  it('--tag-format fills {short} and {branch}', async () => {
    const f = await repo([ROOT, src('v1'), manifest('1')])
    const [, c1, c2] = f.shas
    const env = push(f, c1, c2, {
      GITHUB_REF: 'refs/heads/release/1.x',
      GITHUB_REF_NAME: 'release/1.x'
    })
    const r = await changes(
      await f.clone({depth: 1}),
      env,
      ...BUILD,
      '--tag-format',
      '{branch}-{short}'
    )
    expect(r.json).toMatchObject({build: false, imageTag: `release-1.x-${c1.slice(0, 7)}`})
  })

  it('a change made and undone within one push builds, because its source commit was never built', async () => {
    const f = await repo([ROOT, src('v1'), src('v2'), src('v1')])
    const [, c1, , c3] = f.shas
    const r = await changes(await f.clone({depth: 1}), push(f, c1, c3))
    expect(r.json).toMatchObject({build: true, failOpen: true, imageTag: c3, changedFiles: 0})
    expect(r.json.reason).toContain('rewritten or reverted history')
  })

  it('first push of a new branch (zero before) compares with the fork point from the default branch', async () => {
    const f = await repo([
      ROOT,
      src('v1'),
      {ref: 'feat', from: 1, ...manifest('feat')},
      {ref: 'feat2', from: 1, ...src('feat2')}
    ])
    const [, c1, feat, feat2] = f.shas
    const branchEnv = (branch: string, after: string) =>
      githubEnv(
        f.dir,
        'push',
        {before: ZERO, after, created: true, repository: {default_branch: 'main'}},
        {
          GITHUB_SHA: after,
          GITHUB_REF: `refs/heads/${branch}`,
          GITHUB_REF_NAME: branch,
          GITHUB_REF_TYPE: 'branch'
        }
      )
    const manifestOnly = await changes(
      await f.clone({depth: 1, branch: 'feat'}),
      branchEnv('feat', feat)
    )
    expect(manifestOnly.json).toMatchObject({
      build: false,
      imageTag: c1,
      base: c1,
      head: feat,
      changedFiles: 1
    })
    const sourceChange = await changes(
      await f.clone({depth: 1, branch: 'feat2'}),
      branchEnv('feat2', feat2)
    )
    expect(sourceChange.json).toMatchObject({build: true, imageTag: feat2, base: c1})
  })

  it('first push of the default branch builds (fail open) with the reason', async () => {
    const f = await repo([ROOT, manifest('1')])
    const [root, c1] = f.shas
    const r = await changes(await f.clone({depth: 1}), push(f, ZERO, c1))
    expect(r.json).toMatchObject({
      build: true,
      failOpen: true,
      imageTag: root,
      sourceCommit: root,
      base: null
    })
    expect(r.json.reason).toContain('first push of the default branch')
  })

  it('force push whose before commit is gone builds (fail open)', async () => {
    const f = await repo([ROOT, src('v1'), manifest('1')])
    const [root, , c2] = f.shas
    const [x] = await importCommits(f.upstream, [{from: root, ...manifest('rewritten')}])
    // The server forgets the old commits, as GitHub or GitLab eventually do.
    await execGit(['reflog', 'expire', '--expire=now', '--all'], {cwd: f.upstream})
    await execGit(['gc', '--quiet', '--prune=now'], {cwd: f.upstream})
    const r = await changes(await f.clone({depth: 1}), {
      ...push(f, c2, x),
      ...githubEnv(
        f.dir,
        'push',
        {before: c2, after: x, forced: true, repository: {default_branch: 'main'}},
        {GITHUB_SHA: x}
      )
    })
    expect(r.json).toMatchObject({build: true, failOpen: true, head: x, imageTag: root})
    expect(r.json.reason).toContain(`base commit ${c2.slice(0, 12)} no longer exists (force push)`)
  })

  it('force push that rewrote the source commit builds even though the trees match', async () => {
    const f = await repo([ROOT, src('v1'), manifest('1')])
    const [root, , c2] = f.shas
    // Same content, new commits (an amended message): the old image is tagged with the old sha.
    const [y1, y2] = await importCommits(f.upstream, [
      {from: root, ...src('v1'), message: 'reworded'},
      manifest('1')
    ])
    const r = await changes(await f.clone({depth: 1}), {
      ...githubEnv(
        f.dir,
        'push',
        {before: c2, after: y2, forced: true},
        {GITHUB_SHA: y2, GITHUB_REF_NAME: 'main'}
      )
    })
    expect(r.json).toMatchObject({build: true, failOpen: true, imageTag: y1, changedFiles: 0})
    expect(r.json.reason).toContain('rewritten or reverted history')
  })
})

describe('GitHub pull_request and merge_group', () => {
  async function prRepo(change: CommitSpec) {
    const f = await repo([
      ROOT,
      src('v1'),
      {files: {'README.md': 'main moved on\n'}},
      {ref: 'feat', from: 1, ...change},
      {ref: 'refs/pull/1/merge', from: 2, merge: 3, files: change.files}
    ])
    return f
  }

  it('a manifest-only pull request reuses the base branch image', async () => {
    const f = await prRepo(manifest('pr'))
    const [, c1, c2, feat, merge] = f.shas
    const env = githubEnv(
      f.dir,
      'pull_request',
      {pull_request: {base: {sha: c2, ref: 'main'}, head: {sha: feat, ref: 'feat'}}},
      {GITHUB_SHA: merge, GITHUB_HEAD_REF: 'feat', GITHUB_REF: 'refs/pull/1/merge'}
    )
    const r = await changes(await f.checkout(merge), env)
    expect(r.json).toMatchObject({
      build: false,
      imageTag: c1,
      base: c2,
      head: merge,
      changedFiles: 1
    })
  })

  it('a pull request that changes the source builds the merge commit', async () => {
    const f = await prRepo(src('pr'))
    const [, , c2, feat, merge] = f.shas
    const env = githubEnv(
      f.dir,
      'pull_request',
      {pull_request: {base: {sha: c2}, head: {sha: feat}}},
      {GITHUB_SHA: merge, GITHUB_HEAD_REF: 'feat'}
    )
    const r = await changes(await f.checkout(merge), env)
    expect(r.json).toMatchObject({build: true, failOpen: false, imageTag: merge, base: c2})
  })

  it('{branch} in the tag format builds on a pull request: the base image was named for another ref', async () => {
    const f = await prRepo(manifest('pr'))
    const [, , c2, feat, merge] = f.shas
    const env = githubEnv(
      f.dir,
      'pull_request',
      {pull_request: {base: {sha: c2}, head: {sha: feat}}},
      {GITHUB_SHA: merge, GITHUB_HEAD_REF: 'feat'}
    )
    const r = await changes(
      await f.checkout(merge),
      env,
      ...BUILD,
      '--tag-format',
      '{branch}-{sha}'
    )
    expect(r.json.build).toBe(true)
    expect(r.json.reason).toContain('names images per ref')
  })

  it('merge_group compares base_sha with head_sha', async () => {
    const f = await repo([
      ROOT,
      src('v1'),
      {ref: 'gh-readonly-queue/main/pr-1', from: 1, ...manifest('q')},
      {ref: 'gh-readonly-queue/main/pr-2', from: 2, ...src('q2')}
    ])
    const [, c1, q1, q2] = f.shas
    const env = (base: string, head: string) =>
      githubEnv(
        f.dir,
        'merge_group',
        {merge_group: {base_sha: base, head_sha: head}},
        {GITHUB_SHA: head}
      )
    const skip = await changes(await f.checkout(q1), env(c1, q1))
    expect(skip.json).toMatchObject({build: false, imageTag: c1, base: c1, head: q1})
    const build = await changes(await f.checkout(q2), env(q1, q2))
    expect(build.json).toMatchObject({build: true, imageTag: q2, base: q1})
  })

  it('workflow_dispatch has no base: builds, naming the source commit', async () => {
    const f = await repo([ROOT, src('v1'), manifest('1')])
    const [, c1, c2] = f.shas
    const env = githubEnv(f.dir, 'workflow_dispatch', {}, {GITHUB_SHA: c2, GITHUB_REF_NAME: 'main'})
    const r = await changes(await f.clone({depth: 1}), env)
    expect(r.json).toMatchObject({
      build: true,
      failOpen: true,
      imageTag: c1,
      base: null,
      changedFiles: null
    })
    expect(r.json.reason).toContain('workflow_dispatch runs carry no base commit')
  })
})

describe('GitLab', () => {
  it('merge request pipelines compare with CI_MERGE_REQUEST_DIFF_BASE_SHA', async () => {
    const f = await repo([
      ROOT,
      src('v1'),
      {ref: 'feat', from: 1, ...manifest('mr')},
      {ref: 'feat2', from: 1, ...src('mr')}
    ])
    const [, c1, feat, feat2] = f.shas
    const env = (head: string, branch: string) => ({
      GITLAB_CI: 'true',
      CI_PIPELINE_SOURCE: 'merge_request_event',
      CI_COMMIT_SHA: head,
      CI_COMMIT_BEFORE_SHA: ZERO,
      CI_MERGE_REQUEST_IID: '3',
      CI_MERGE_REQUEST_DIFF_BASE_SHA: c1,
      CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: branch,
      CI_DEFAULT_BRANCH: 'main'
    })
    const skip = await changes(await f.clone({depth: 1, branch: 'feat'}), env(feat, 'feat'))
    expect(skip.json).toMatchObject({build: false, imageTag: c1, base: c1})
    const build = await changes(await f.clone({depth: 1, branch: 'feat2'}), env(feat2, 'feat2'))
    expect(build.json).toMatchObject({build: true, imageTag: feat2})
  })

  it('runs from the component variables (--env-inputs: arrays as JSON, empty inputs as unset)', async () => {
    const f = await repo([ROOT, src('v1'), manifest('1')])
    const [, c1, c2] = f.shas
    const checkout = await f.clone({depth: 1})
    const {code, stdout, stderr} = await cli(
      ['changes', '-C', checkout, '--env-inputs', '--json'],
      {
        GITLAB_CI: 'true',
        CI_PIPELINE_SOURCE: 'push',
        CI_COMMIT_SHA: c2,
        CI_COMMIT_BEFORE_SHA: c1,
        CI_COMMIT_BRANCH: 'main',
        CI_DEFAULT_BRANCH: 'main',
        GITOPS_INPUT_BUILD_PATHS: '["src/**","Dockerfile"]\n',
        GITOPS_INPUT_IGNORE_PATHS: '[]\n',
        GITOPS_INPUT_BASE: '\n',
        GITOPS_INPUT_HEAD: '\n',
        GITOPS_INPUT_TAG_FORMAT: '{short}\n',
        GITOPS_INPUT_DEFAULT_BRANCH: '\n',
        GITOPS_INPUT_REMOTE: 'origin\n'
      }
    )
    expect(stderr).not.toContain('error')
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toMatchObject({
      build: false,
      imageTag: c1.slice(0, 7),
      base: c1,
      head: c2
    })
  })

  it('a new branch (CI_COMMIT_BEFORE_SHA all zeros) compares with CI_DEFAULT_BRANCH', async () => {
    const f = await repo([ROOT, src('v1'), {ref: 'feat', from: 1, ...manifest('nb')}])
    const [, c1, feat] = f.shas
    const r = await changes(await f.clone({depth: 1, branch: 'feat'}), {
      GITLAB_CI: 'true',
      CI_PIPELINE_SOURCE: 'push',
      CI_COMMIT_SHA: feat,
      CI_COMMIT_BEFORE_SHA: ZERO,
      CI_COMMIT_BRANCH: 'feat',
      CI_DEFAULT_BRANCH: 'main'
    })
    expect(r.json).toMatchObject({build: false, imageTag: c1, base: c1, head: feat})
  })
})

describe('shallow clones and big changes', () => {
  // 500 commits; the last one touching src/ is 300 commits behind the tip.
  const history = (): CommitSpec[] => {
    const commits: CommitSpec[] = [ROOT]
    for (let i = 1; i < 500; i++) commits.push(i < 200 ? src(`v${i}`) : manifest(`${i}`))
    return commits
  }

  it('deepens a depth-1 clone until the source commit 300 commits back is found, without unshallowing', async () => {
    const f = await repo(history())
    const checkout = await f.clone({depth: 1})
    const r = await changes(checkout, push(f, f.shas[498], f.shas[499]))
    expect(r.json).toMatchObject({build: false, imageTag: f.shas[199], sourceCommit: f.shas[199]})
    // 50 + 100 + 200 commits: enough to see the source commit and its parent.
    expect(r.json.fetches).toBe(3)
    expect(await git(checkout, 'rev-parse', '--is-shallow-repository')).toBe('true')
    expect(Number(await git(checkout, 'rev-list', '--count', 'HEAD'))).toBeLessThan(500)
  })

  it('unshallows as the last resort and still answers from complete history', async () => {
    const f = await repo(history())
    const checkout = await f.clone({depth: 1})
    const r = await detectChanges({
      cwd: checkout,
      remote: 'origin',
      filter: createFilter(['src/**']),
      tagFormat: parseTagFormat('{short}'),
      context: resolveCiContext({}, undefined, {base: f.shas[498]}),
      deepen: {initialStep: 2, unshallowAfter: 8}
    })
    expect(r).toMatchObject({
      kind: 'reuse',
      sourceCommit: f.shas[199],
      imageTag: f.shas[199].slice(0, 7)
    })
    expect(await git(checkout, 'rev-parse', '--is-shallow-repository')).toBe('false')
  })

  it('reads the history between base and head once: one diff, and no second log walk from the base', async () => {
    const f = await repo(history())
    const checkout = await f.clone()
    const trace = join(f.dir, 'git-trace.log')
    // GIT_TRACE is one of the variables the exec funnel passes through.
    process.env.GIT_TRACE = trace
    let r
    try {
      r = await detectChanges({
        cwd: checkout,
        remote: 'origin',
        filter: createFilter(['src/**']),
        tagFormat: parseTagFormat('{sha}'),
        context: resolveCiContext({}, undefined, {base: f.shas[498]})
      })
    } finally {
      delete process.env.GIT_TRACE
    }
    expect(r).toMatchObject({kind: 'reuse', sourceCommit: f.shas[199]})
    const runs = readFileSync(trace, 'utf8')
      .split('\n')
      .filter(l => l.includes('trace: built-in: git '))
    expect(runs.filter(l => / git diff /.test(l))).toHaveLength(1)
    // Pages of 64, 128 and 256 commits from head reach the source 300 back; the base's walk is their tail.
    expect(runs.filter(l => / git log /.test(l))).toHaveLength(3)
  })

  it('reaches the base by deepening when the server refuses commits by id (protocol v0)', async () => {
    const commits: CommitSpec[] = [ROOT, src('v1')]
    for (let i = 0; i < 120; i++) commits.push(manifest(`${i}`))
    const f = await repo(commits)
    const checkout = await f.clone({depth: 1})
    await git(checkout, 'config', 'protocol.version', '0')
    const before = f.shas[2]
    const r = await changes(checkout, push(f, before, f.shas[121]))
    expect(r.json).toMatchObject({build: false, base: before, imageTag: f.shas[1], changedFiles: 1})
    expect(r.json.fetches).toBe(2)
  })

  it('never mistakes the shallow boundary for a commit that added every file', async () => {
    // Only the root commit touches src/: a depth-1 clone's boundary commit "adds" src/ too.
    const f = await repo([ROOT, ...Array.from({length: 5}, (_, i) => manifest(`${i}`))])
    const r = await changes(await f.clone({depth: 1}), push(f, f.shas[4], f.shas[5]))
    expect(r.json).toMatchObject({build: false, sourceCommit: f.shas[0]})
  })

  it('lists a 5,000-file change in full (no API cap) and counts a rename for its old path', async () => {
    const f = await repo([
      ROOT,
      {files: {...manyFiles('docs', 5000), 'src/app.ts': null, 'attic/app.ts': 'v0\n'}}
    ])
    const [root, c1] = f.shas
    const r = await changes(await f.clone({depth: 1}), push(f, root, c1))
    expect(r.json.changedFiles).toBe(5001)
    expect(r.json.build).toBe(true)
    expect(r.json.matchedFiles).toEqual(['src/app.ts -> attic/app.ts'])
  })

  it('a 5,000-file change outside the build paths skips the build', async () => {
    const f = await repo([ROOT, src('v1'), {files: manyFiles('deploy/generated', 5000)}])
    const [, c1, c2] = f.shas
    const r = await changes(await f.clone({depth: 1}), push(f, c1, c2))
    expect(r.json).toMatchObject({build: false, changedFiles: 5000, imageTag: c1})
  })
})

describe('errors and adapters', () => {
  it('an invalid glob exits 2 naming the glob and the fix, before touching git', async () => {
    const dir = tempDir('not-a-repo')
    try {
      const r = await changes(dir, {}, '--build-paths', 'src/{app,lib')
      expect(r.code).toBe(2)
      expect(r.stderr).toContain('invalid glob \'src/{app,lib\' in --build-paths: unbalanced "{}"')
    } finally {
      remove(dir)
    }
  })

  it('missing build paths and an unknown placeholder exit 2', async () => {
    const dir = tempDir('not-a-repo')
    try {
      expect((await changes(dir, {}, '--tag-format', '{sha}')).stderr).toContain(
        'no build paths given'
      )
      const r = await changes(dir, {}, ...BUILD, '--tag-format', 'app-{commit}')
      expect(r.code).toBe(2)
      expect(r.stderr).toContain('unknown placeholder {commit}')
    } finally {
      remove(dir)
    }
  })

  it('a directory that is not a checkout exits 1 with the fix', async () => {
    const dir = tempDir('not-a-repo')
    try {
      const r = await changes(dir, {})
      expect(r.code).toBe(1)
      expect(r.stderr).toContain('is not a git checkout')
      expect(r.stderr).toContain('pass --root')
    } finally {
      remove(dir)
    }
  })

  it('a dead remote while deepening exits 1 with the fix, and the job token never shows', async () => {
    const token = fakeToken('glcbt-', 'scrtjobtoken')
    const f = await repo([ROOT, src('v1'), manifest('1'), manifest('2')])
    const [, c1, , c3] = f.shas
    const checkout = await f.clone({depth: 1})
    // How GitLab runners configure the remote: the job token sits in the URL.
    await git(
      checkout,
      'remote',
      'set-url',
      'origin',
      `http://gitlab-ci-token:${token}@127.0.0.1:9/acme/app.git`
    )
    const r = await changes(checkout, {
      GITLAB_CI: 'true',
      CI_JOB_TOKEN: token,
      GITOPS_DEBUG: '1',
      CI_PIPELINE_SOURCE: 'push',
      CI_COMMIT_SHA: c3,
      CI_COMMIT_BEFORE_SHA: c1,
      CI_COMMIT_BRANCH: 'main'
    })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("could not deepen the shallow clone from 'origin'")
    expect(r.stderr).toContain('fetch-depth: 0 / GIT_DEPTH: 0')
    expect(r.stderr + r.stdout).not.toContain(token)
  })

  it('writes GitLab dotenv outputs and plain text', async () => {
    const f = await repo([ROOT, src('v1'), manifest('1')])
    const [, c1, c2] = f.shas
    const checkout = await f.clone({depth: 1})
    const dotenv = join(f.dir, 'changes.env')
    const {code, stdout} = await cli([
      'changes',
      '-C',
      checkout,
      '--build-paths',
      'src/**,Dockerfile',
      '--base',
      c1,
      '--dotenv',
      dotenv
    ])
    expect(code).toBe(0)
    expect(stdout).toContain(`build=false image-tag=${c1}`)
    const env = readFileSync(dotenv, 'utf8')
    expect(env).toContain('GITOPS_BUILD=false\n')
    expect(env).toContain(`GITOPS_IMAGE_TAG=${c1}\n`)
    expect(env).toContain(`GITOPS_SOURCE_COMMIT=${c1}\n`)
    expect(env).toContain(`GITOPS_HEAD=${c2}\n`)
    expect(env).toContain('GITOPS_CHANGED_FILES=1\n')
  })
})
