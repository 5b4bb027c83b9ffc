import {mkdir, readFile, rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {Redactor} from '../../src/core/redact.js'
import {UsageError} from '../../src/core/errors.js'
import {deliver, type Guard, type PlannedWrite} from '../../src/delivery/deliver.js'
import {DEFAULT_AUTHOR, type DeliverySettings} from '../../src/delivery/options.js'
import type {GuardContext} from '../../src/edits/edit.js'
import {setImageEdit} from '../../src/edits/set-image.js'
import {memoryPlatform} from '../../src/platform/port.js'
import {GitHubDouble} from '../doubles/github-double.js'
import {kustomization, tempDir} from '../helpers/git-fixtures.js'
import {startGitHttpServer, type GitHttpServer} from '../helpers/git-http-server.js'
import {
  APP_TOKEN,
  configFiles,
  kfile,
  overlay,
  tagOf,
  transportRepo,
  type TransportRepo
} from './helpers.js'

/**
 * deliver() carries any edit in every mode, runs the pre-write guards on the
 * planned writes before anything is written, committed or pushed, and
 * reports one Delivery whatever the mode.
 */

const edit = (tag: string) =>
  setImageEdit({
    paths: [overlay('web')],
    images: [`ghcr.io/acme/web:${tag}`],
    sets: [],
    createKeys: false
  })

/** A guard that records what it saw and refuses when told to. */
function recording(refuse: boolean) {
  const seen: {writes: PlannedWrite[]; ctx: GuardContext}[] = []
  const guard: Guard = async (writes, ctx) => {
    seen.push({writes, ctx})
    if (refuse) throw new UsageError('refused by the test guard; drop it')
  }
  return {seen, guard}
}

describe('deliver() under -C (local)', () => {
  let root: string
  beforeEach(async () => {
    root = await tempDir()
    await mkdir(join(root, overlay('web')), {recursive: true})
    await writeFile(join(root, kfile('web')), kustomization('ghcr.io/acme/web', '1.0.0'))
  })
  afterEach(() => rm(root, {recursive: true, force: true}))

  const local = (guards: Guard[]): DeliverySettings => ({
    mode: 'local',
    root,
    dryRun: false,
    guards
  })

  it('a guard sees the planned write and its refusal leaves the file untouched', async () => {
    const {seen, guard} = recording(true)
    const before = await readFile(join(root, kfile('web')), 'utf8')
    await expect(
      deliver(edit('2.0.0'), local([guard]), memoryPlatform(new Redactor()))
    ).rejects.toThrow(UsageError)
    expect(await readFile(join(root, kfile('web')), 'utf8')).toBe(before)
    expect(seen).toHaveLength(1)
    expect(seen[0].ctx).toEqual({mode: 'local', root})
    expect(seen[0].writes).toEqual([
      {path: kfile('web'), before, after: before.replace('newTag: 1.0.0', 'newTag: 2.0.0')}
    ])
  })

  it('reports the local delivery: files, no commit', async () => {
    const {guard} = recording(false)
    const d = await deliver(edit('2.0.0'), local([guard]), memoryPlatform(new Redactor()))
    expect(d).toMatchObject({
      mode: 'local',
      files: [kfile('web')],
      commit: null,
      pushed: false,
      dryRun: false
    })
    expect(tagOf(await readFile(join(root, kfile('web')), 'utf8'))).toBe('2.0.0')
  })
})

describe('deliver() to a remote (push and PR, git and API)', () => {
  let repo: TransportRepo
  let server: GitHttpServer
  let gh: GitHubDouble

  beforeEach(async () => {
    repo = await transportRepo(configFiles())
    await repo.git(['config', 'receive.denyNonFastForwards', 'false'])
    server = await startGitHttpServer({
      root: repo.root,
      credentials: [{user: 'x-access-token', password: APP_TOKEN, access: 'write'}]
    })
    gh = await GitHubDouble.start({
      token: APP_TOKEN,
      repos: [{owner: 'acme', repo: 'config', gitDir: repo.dir}]
    })
  })
  afterEach(async () => {
    expect(gh.violations).toEqual([])
    await gh.close()
    await server.close()
    await repo.fsck()
    await repo.dispose()
  })

  const common = (transport: 'git' | 'api', guards: Guard[]) => ({
    repo: server.repoUrl('acme/config.git'),
    author: DEFAULT_AUTHOR,
    authorGiven: false,
    maxAttempts: 3,
    transport: {choice: transport, requireVerified: false},
    provider: 'github',
    apiUrl: gh.apiUrl,
    env: {GITOPS_TOKEN: APP_TOKEN},
    cwd: process.cwd(),
    backoff: {baseMs: 1, capMs: 5},
    guards
  })
  const push = (transport: 'git' | 'api', guards: Guard[]): DeliverySettings => ({
    ...common(transport, guards),
    mode: 'push',
    dryRun: false
  })
  const pr = (transport: 'git' | 'api', guards: Guard[]): DeliverySettings => ({
    ...common(transport, guards),
    mode: 'pr',
    closeStale: true,
    labels: [],
    reviewers: [],
    teamReviewers: [],
    assignees: [],
    draft: false
  })
  const platform = () => memoryPlatform(new Redactor())

  for (const transport of ['git', 'api'] as const) {
    it(`push over ${transport}: a refusing guard stops it before anything is committed`, async () => {
      const {seen, guard} = recording(true)
      const head = await repo.head()
      await expect(deliver(edit('2.0.0'), push(transport, [guard]), platform())).rejects.toThrow(
        'refused by the test guard'
      )
      expect(await repo.head()).toBe(head)
      expect(seen).toHaveLength(1)
      expect(seen[0].ctx.mode).toBe('push')
      expect(seen[0].ctx.transport).toBe(transport)
      // git plans on the clone; the API on a read-only view of the tip.
      expect(transport === 'git' ? seen[0].ctx.root : seen[0].ctx.view?.commit).toBeTruthy()
      expect(seen[0].writes.map(w => w.path)).toEqual([kfile('web')])
      expect(seen[0].writes[0].after).toContain('newTag: 2.0.0')
    })

    it(`push over ${transport}: the Delivery names the repo, branch, commit and files`, async () => {
      const {seen, guard} = recording(false)
      const d = await deliver(edit('2.0.0'), push(transport, [guard]), platform())
      expect(seen).toHaveLength(1)
      expect(d).toMatchObject({
        mode: 'push',
        repo: server.repoUrl('acme/config.git'),
        branch: 'main',
        commit: await repo.head(),
        pushed: true,
        files: [kfile('web')]
      })
      expect(d.remote).toMatchObject({transport, attempts: 1})
    })

    it(`PR over ${transport}: a refusing guard stops it before the branch or the PR exists`, async () => {
      const {seen, guard} = recording(true)
      await expect(deliver(edit('2.0.0'), pr(transport, [guard]), platform())).rejects.toThrow(
        'refused by the test guard'
      )
      expect(seen).toHaveLength(1)
      expect(seen[0].ctx).toMatchObject({mode: 'pr', transport})
      expect(gh.pulls).toEqual([])
      expect((await repo.git(['for-each-ref', 'refs/heads/gitops-deploy'])).trim()).toBe('')
    })

    it(`PR over ${transport}: the Delivery names the PR, its head branch and commit`, async () => {
      const d = await deliver(edit('2.0.0'), pr(transport, []), platform())
      const branch = `gitops-deploy/main/${overlay('web')}`
      expect(d).toMatchObject({
        mode: 'pr',
        repo: server.repoUrl('acme/config.git'),
        branch,
        base: 'main',
        pushed: true,
        files: [kfile('web')],
        pullRequest: {number: 1, operation: 'created'}
      })
      expect(d.pullRequest?.url).toMatch(/\/pull\/1$/)
      expect(d.commit).toBe((await repo.git(['rev-parse', branch])).trim())
    })
  }
})
