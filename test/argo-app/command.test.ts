import {mkdir, readdir, readFile, rm, symlink, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {renderManifest} from '../../src/argocd/manifest.js'
import {argoAppCommand, manifestPlanner, planManifest} from '../../src/commands/argo-app.js'
import {Redactor} from '../../src/core/redact.js'
import {remoteWrite} from '../../src/delivery/push-git.js'
import {findCommand} from '../../src/commands/registry.js'
import {parseMarker} from '../../src/forge/pr-body.js'
import {GitHubDouble} from '../doubles/github-double.js'
import {
  makeBareRepo,
  projectRepo,
  tempDir,
  type BareRepo,
  type ProjectRepo
} from '../helpers/git-fixtures.js'
import {TOKEN} from '../forge/helpers.js'
import {IN_CLUSTER, SOURCE_REPO, appArgs, cli, expectValidApplication, request} from './helpers.js'

const MANIFEST = 'argocd/apps/web-dev.yaml'

/** The manifest after someone edited it by hand: a comment, a label and ignoreDifferences of their own. */
function handEdited(text: string): string {
  return text
    .replace(
      '  name: web-dev\n',
      '  name: web-dev # parent prunes by name\n  labels:\n    owner: alice\n'
    )
    .concat(
      '  # HPA owns replicas\n  ignoreDifferences:\n    - group: apps\n      kind: Deployment\n      jsonPointers: [/spec/replicas]\n'
    )
}

describe('argo-app is registered', () => {
  it('as a command with the Application options of argo-upsert and the PR/push options of set-image', () => {
    expect(findCommand('argo-app')).toBe(argoAppCommand)
    const names = argoAppCommand.options.map(o => o.name)
    for (const n of ['app', 'project', 'path', 'revision', 'plugin-env', 'sync-option', 'label']) {
      expect(names).toContain(n)
    }
    for (const n of ['repo', 'mode', 'pr-branch', 'labels', 'branch', 'message', 'max-attempts']) {
      expect(names).toContain(n)
    }
    expect(names).toContain('manifest')
    expect(names).toContain('source-repo')
    for (const n of ['server', 'sync', 'wait', 'timeout', 'insecure', 'ca-file']) {
      expect(names).not.toContain(n)
    }
    expect(new Set(names).size).toBe(names.length)
  })
})

describe('argo-app -C (a checkout CI already has)', () => {
  let root: string
  beforeEach(async () => {
    root = await tempDir()
  })
  afterEach(async () => {
    await rm(root, {recursive: true, force: true})
  })

  it('creates the manifest, then finds nothing to change, with outputs in the dotenv report', async () => {
    const dotenv = join(root, '..', `argo-app-${Date.now()}.env`)
    const first = await cli(['argo-app', '-C', root, ...appArgs(), '--dotenv', dotenv])
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toBe(`${MANIFEST}: Application web-dev created\n`)
    const text = await readFile(join(root, MANIFEST), 'utf8')
    expect(text).toBe(renderManifest(request()))
    expectValidApplication(text)
    expect(await readFile(dotenv, 'utf8')).toContain('GITOPS_OPERATION=created')
    await rm(dotenv, {force: true})

    const again = await cli(['argo-app', '-C', root, ...appArgs(), '--json'])
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({
      changed: false,
      operation: 'unchanged',
      manifest: MANIFEST,
      diff: ''
    })
  })

  it('--dry-run prints the diff and writes nothing', async () => {
    const path = join(root, MANIFEST)
    await mkdir(join(root, 'argocd/apps'), {recursive: true})
    await writeFile(path, handEdited(renderManifest(request())))
    const before = await readFile(path, 'utf8')
    const r = await cli(['argo-app', '-C', root, ...appArgs('1.4.3'), '--dry-run'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(
      '         - name: IMAGE_TAG\n-          value: 1.4.2\n+          value: 1.4.3\n'
    )
    expect(r.stdout).toContain('dry run: argocd/apps/web-dev.yaml would be updated')
    expect(r.stdout).toContain('spec.source.plugin.env[IMAGE_TAG]: 1.4.2 -> 1.4.3')
    expect(await readFile(path, 'utf8')).toBe(before)
  })

  it('refuses a manifest path outside the root or of the wrong type', async () => {
    const out = await cli(['argo-app', '-C', root, ...appArgs(), '--manifest', '../x.yaml'])
    expect(out.code).toBe(2)
    expect(out.stderr).toContain("uses '..' and could leave the root")
    const json = await cli(['argo-app', '-C', root, ...appArgs(), '--manifest', 'apps/web.json'])
    expect(json.code).toBe(2)
    expect(json.stderr).toContain('must end in .yaml or .yml')
    const noSource = await cli([
      'argo-app',
      '-C',
      root,
      ...appArgs().filter(a => a !== '--source-repo' && a !== SOURCE_REPO)
    ])
    expect(noSource.code).toBe(2)
    expect(noSource.stderr).toContain('--source-repo is required without --repo')
  })

  it('refuses a manifest directory that is a symlink out of the root, writing nothing', async () => {
    const outside = await tempDir()
    try {
      await mkdir(join(root, 'argocd'))
      await symlink(outside, join(root, 'argocd/apps'))
      const r = await cli(['argo-app', '-C', root, ...appArgs()])
      expect(r.code).toBe(2)
      expect(r.stderr).toContain('leads outside the root through a symlink')
      expect(await readdir(outside)).toEqual([])
    } finally {
      await rm(outside, {recursive: true, force: true})
    }
  })

  it('the job summary names the manifest and shows the diff', async () => {
    await cli(['argo-app', '-C', root, ...appArgs()])
    const settings = argoAppCommand.settings(
      readerOf(['argo-app', '-C', root, ...appArgs('2.0.0')]),
      {},
      {warning: () => undefined} as never
    )
    const outcome = await planManifest(root, settings.manifest, settings.request)
    const summary = argoAppCommand.summary({outcome, dryRun: true})
    expect(summary).toContain('### argo-app: web-dev would be updated')
    expect(summary).toContain(`**Manifest:** \`${MANIFEST}\``)
    expect(summary).toContain('- `spec.source.plugin.env[IMAGE_TAG]: 1.4.2 -> 2.0.0`')
    expect(summary).toContain('```diff\n--- a/argocd/apps/web-dev.yaml\n')
    expect(summary).toContain('+          value: 2.0.0\n```')
  })
})

/** A minimal InputReader over CLI-style args (repeatable flags collect into lists). */
function readerOf(args: string[]) {
  const values = new Map<string, string[]>()
  for (let i = 1; i < args.length; i++) {
    const name = args[i] === '-C' ? 'root' : args[i].replace(/^--/, '')
    const next = args[i + 1]
    if (next === undefined || next.startsWith('--')) {
      values.set(name, ['true'])
      continue
    }
    values.set(name, [...(values.get(name) ?? []), next])
    i++
  }
  return {
    string: (n: string) => values.get(n)?.at(-1),
    list: (n: string) => values.get(n) ?? [],
    boolean: (n: string) => (values.has(n) ? values.get(n)![0] === 'true' : undefined)
  }
}

describe('argo-app --repo (commit and push to the config repo)', () => {
  let repo: BareRepo
  beforeEach(async () => {
    repo = await makeBareRepo({'README.md': '# config\n'})
  })
  afterEach(async () => {
    await repo.cleanup()
  })

  const run = (extra: string[], tag = '1.4.2') =>
    cli(['argo-app', '--repo', repo.url, ...appArgs(tag), ...extra])

  it('creates the manifest in one commit, then re-runs without a commit', async () => {
    const first = await run(['--json'])
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    const json = JSON.parse(first.stdout)
    const head = await repo.head()
    expect(json).toMatchObject({
      changed: true,
      operation: 'created',
      manifest: MANIFEST,
      pushed: true,
      commit: head,
      attempts: 1,
      branch: 'main'
    })
    expect(await repo.readFile(MANIFEST)).toBe(renderManifest(request()))
    const [commit] = await repo.log()
    expect(commit.subject).toBe(`Add Argo CD Application web-dev (${MANIFEST})`)
    expect(commit.author).toBe('gitops-deploy <gitops-deploy@users.noreply.github.com>')
    expect(await repo.listFiles()).toEqual(['README.md', MANIFEST])

    const again = await run(['--json'])
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({
      changed: false,
      operation: 'unchanged',
      pushed: false,
      commit: null
    })
    expect(await repo.head()).toBe(head)
    await repo.fsck()
  })

  it('updates only the tag line of a hand-edited manifest; comments and hand-added fields stay', async () => {
    const edited = handEdited(renderManifest(request()))
    await repo.commit({[MANIFEST]: edited}, 'Hand edits')
    const r = await run(['--json', '--message', '{{subject}}\\n\\n{{changes}}'], '1.4.3')
    expect(r.code).toBe(0)
    const json = JSON.parse(r.stdout)
    expect(json.operation).toBe('updated')
    expect(json.changes).toEqual([
      {path: 'spec.source.plugin.env[IMAGE_TAG]', before: '1.4.2', after: '1.4.3'}
    ])
    expect(json.diff).toBe(
      [
        `--- a/${MANIFEST}`,
        `+++ b/${MANIFEST}`,
        '@@ -21,7 +21,7 @@',
        '         - name: AVP_SECRET',
        '           value: web-vault',
        '         - name: IMAGE_TAG',
        '-          value: 1.4.2',
        '+          value: 1.4.3',
        '   # HPA owns replicas',
        '   ignoreDifferences:',
        '     - group: apps',
        ''
      ].join('\n')
    )
    expect(await repo.readFile(MANIFEST)).toBe(edited.replace('value: 1.4.2', 'value: 1.4.3'))
    const [commit] = await repo.log()
    expect(commit.subject).toBe(
      'Update Argo CD Application web-dev: spec.source.plugin.env[IMAGE_TAG]: 1.4.2 -> 1.4.3'
    )
    expect(commit.body).toBe(`${MANIFEST}\n  spec.source.plugin.env[IMAGE_TAG]: 1.4.2 -> 1.4.3`)
  })

  it('two jobs racing on the same manifest both land: the loser re-applies its edit on the new tip', async () => {
    await repo.commit({[MANIFEST]: renderManifest(request())}, 'Seed')
    const [a, b] = await Promise.all([run(['--label', 'a=1']), run(['--label', 'b=2'])])
    expect([a.code, b.code]).toEqual([0, 0])
    const text = await repo.readFile(MANIFEST)
    // Whichever job lost the race added its label below the winner's.
    expect(text).toMatch(/ {2}labels:\n {4}(a: "1"\n {4}b: "2"|b: "2"\n {4}a: "1")\n/)
    expect(expectValidApplication(text).metadata.labels).toEqual({a: '1', b: '2'})
    expect((await repo.log()).length).toBe(4)
  })

  it("a push that loses the race re-plans on the new tip and keeps the other job's edit", async () => {
    await repo.commit({[MANIFEST]: renderManifest(request())}, 'Seed')
    const planner = manifestPlanner(MANIFEST, request({labels: {b: '2'}}))
    let plans = 0
    const result = await remoteWrite({
      repo: repo.url,
      planner: {
        ...planner,
        plan: async dir => {
          // Another job lands its edit between our clone and our push.
          if (plans++ === 0) {
            await repo.commit(
              {[MANIFEST]: renderManifest(request({labels: {a: '1'}}))},
              'Other job'
            )
          }
          return planner.plan(dir)
        }
      },
      message: () => 'Label b\n',
      author: {name: 'Bot', email: 'bot@example.com'},
      maxAttempts: 3,
      dryRun: false,
      env: {},
      redactor: new Redactor(),
      backoff: {baseMs: 1, capMs: 5}
    })
    expect(result).toMatchObject({kind: 'pushed', attempts: 2})
    expect(plans).toBe(2)
    const text = await repo.readFile(MANIFEST)
    expect(text).toContain('  labels:\n    a: "1"\n    b: "2"\n')
    expect((await repo.log()).map(c => c.subject).slice(0, 2)).toEqual(['Label b', 'Other job'])
  })

  it('refuses a file that holds another kind: exit 2, the remote untouched', async () => {
    await repo.commit(
      {[MANIFEST]: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-dev\n'},
      'CM'
    )
    const head = await repo.head()
    const r = await run([])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(
      `${MANIFEST} holds v1 ConfigMap, not an Argo CD Application (argoproj.io/v1alpha1); point --manifest at web-dev's own file`
    )
    expect(await repo.head()).toBe(head)
  })

  it('defaults the source repoURL to --repo only when Argo CD could clone it', async () => {
    const r = await cli([
      'argo-app',
      '--repo',
      repo.url,
      ...appArgs().filter(a => a !== '--source-repo' && a !== SOURCE_REPO)
    ])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('is not a URL Argo CD can clone')
    expect(r.stderr).toContain('pass --source-repo <url>')
  })

  it('--dry-run with --repo shows the would-be commit and pushes nothing', async () => {
    const head = await repo.head()
    const r = await run(['--dry-run'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`+++ b/${MANIFEST}`)
    expect(r.stdout).toContain('dry run: would commit to main of')
    expect(await repo.head()).toBe(head)
  })
})

describe('argo-app --mode pr against the GitHub API double', () => {
  let root: string
  let repo: ProjectRepo
  let gh: GitHubDouble

  beforeAll(async () => {
    repo = await projectRepo({'README.md': '# config\n'}, {allowForcePush: true})
    root = repo.root
    gh = await GitHubDouble.start({
      token: TOKEN,
      repos: [{owner: 'acme', repo: 'config', gitDir: repo.dir, collaborators: ['alice']}]
    })
  })

  afterAll(async () => {
    await gh.close()
    await rm(root, {recursive: true, force: true})
  })

  afterEach(() => {
    expect(gh.violations).toEqual([])
  })

  const env = {GITOPS_TOKEN: TOKEN}
  const pr = (tag: string, extra: string[] = []) =>
    cli(
      [
        'argo-app',
        '--mode',
        'pr',
        '--repo',
        repo.url,
        '--provider',
        'github',
        '--api-url',
        gh.apiUrl,
        ...appArgs(tag),
        '--json',
        ...extra
      ],
      env
    )

  it('opens one PR per Application, leaves it alone on a re-run, and updates it for a new tag', async () => {
    const main = await repo.head()
    const first = await pr('1.4.2', ['--reviewers', 'alice', '--labels', 'argo'])
    expect(first.stderr).not.toContain('error')
    expect(first.stdout + first.stderr).not.toContain(TOKEN)
    expect(first.code).toBe(0)
    const json = JSON.parse(first.stdout)
    expect(json).toMatchObject({
      changed: true,
      operation: 'created',
      branch: 'gitops-deploy/argo-app/web-dev',
      pullRequest: {number: 1, operation: 'created'}
    })
    expect(await repo.head()).toBe(main)
    const onBranch = await repo.readFile(MANIFEST, json.branch)
    expect(onBranch).toBe(renderManifest(request()))
    expect(gh.pulls[0]).toMatchObject({
      title: `Update Argo CD Application web-dev (${MANIFEST})`,
      labels: ['argo'],
      requested_reviewers: ['alice']
    })
    expect(parseMarker(gh.pulls[0].body)?.changes).toEqual([
      {file: MANIFEST, key: 'Application web-dev', value: 'created'}
    ])

    const same = await pr('1.4.2')
    expect(same.code).toBe(0)
    expect(JSON.parse(same.stdout).pullRequest).toMatchObject({number: 1, operation: 'unchanged'})

    const next = await pr('1.4.3')
    expect(next.code).toBe(0)
    expect(JSON.parse(next.stdout).pullRequest).toMatchObject({number: 1, operation: 'updated'})
    expect(gh.pulls).toHaveLength(1)
  })

  it('proposes a plugin env change to a merged manifest, with the field in the PR body', async () => {
    // Merge what the first PR proposed, as a reviewer would.
    const branch = 'gitops-deploy/argo-app/web-dev'
    await repo.git(['update-ref', 'refs/heads/main', `refs/heads/${branch}`])
    gh.pulls[0].state = 'closed'
    const r = await pr('1.5.0')
    expect(r.code).toBe(0)
    const json = JSON.parse(r.stdout)
    expect(json).toMatchObject({
      operation: 'updated',
      pullRequest: {number: 2, operation: 'created'}
    })
    expect(json.diff).toContain('-          value: 1.4.3\n+          value: 1.5.0\n')
    expect(gh.pulls[1].body).toContain('`spec.source.plugin.env[IMAGE_TAG]`')
    expect(gh.pulls[1].body).toContain('`1.4.3` → `1.5.0`')
    expectValidApplication(await repo.readFile(MANIFEST, branch))
  })
})

export {IN_CLUSTER}
