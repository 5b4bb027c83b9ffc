/**
 * The components run for real in gitlab-ci-local's shell executor: the job
 * `image:` is ignored (`--force-shell-executor`), the CLI comes from this
 * checkout (`cli-source: local`, a wrapper that loads src/ through tsx), and
 * the config repo is a local bare repo over file://. A second job `needs:`
 * the component job and sees its dotenv report as variables.
 */
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterEach, describe, expect, it, vi} from 'vitest'
import {findCommand} from '../../src/commands/registry.js'
import {exampleRepo, type ExampleRepo} from '../promote/helpers.js'
import {GitLabDouble} from '../doubles/gitlab-double.js'
import {ArgoCdDouble, IN_CLUSTER} from '../doubles/argocd-double.js'
import {GCL_TEST_TIMEOUT_MS, REPO_ROOT, scratchProject, type ScratchProject} from './gcl.js'

vi.setConfig({testTimeout: GCL_TEST_TIMEOUT_MS, hookTimeout: GCL_TEST_TIMEOUT_MS})
import {fakeToken} from '../helpers/fake-token.js'
import {missingTool} from '../helpers/tools.js'

/** Runs the CLI from src/ so the test exercises the code under test, not a stale bundle. */
const CLI_WRAPPER = `import {register} from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/esm/api/index.mjs')).href)}
register()
await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'src/cli.ts')).href)})
`

let project: ScratchProject | undefined
let config: ExampleRepo | undefined
afterEach(async () => {
  await project?.cleanup()
  await config?.fsck()
  await config?.dispose()
  project = config = undefined
})

/** The lines a job printed, without gitlab-ci-local's `<job> > ` prefix. */
function jobOutput(stdout: string, job: string): string[] {
  const prefix = new RegExp(`^${job.replace(/[-]/g, '\\-')}\\s+> ?`)
  return stdout
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .filter(l => prefix.test(l))
    .map(l => l.replace(prefix, ''))
}

const SECRET = fakeToken('glpat-', 'DoNotLeakThisToken')

// Running a job (not --preview) makes gitlab-ci-local rsync the project first.
describe.skipIf(missingTool('rsync'))('components in the gitlab-ci-local shell executor', () => {
  it('set-image commits to a local bare config repo and hands GITOPS_COMMIT to the next job', async ({skip}) => {
    if (!findCommand('set-image')!.options.some(o => o.name === 'repo')) {
      skip('set-image does not accept --repo yet (remote path not landed)')
    }
    config = await exampleRepo()
    const before = await config.head()
    project = await scratchProject(
      `stages: [deploy, verify]
include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/set-image@$CI_COMMIT_SHA
    inputs:
      cli-source: local
      cli-path: gitops-cli.mjs
      repo: ${config.url}
      path: [apps/web/overlays/dev]
      image: ghcr.io/acme/web:$RELEASE_TAG
      message: 'deploy(web): "$RELEASE_TAG" to dev: it''s #1'

verify:
  stage: verify
  needs: [gitops-set-image]
  script:
    - echo "commit=$GITOPS_COMMIT changed=$GITOPS_CHANGED pushed=$GITOPS_PUSHED"
`,
      {'gitops-cli.mjs': CLI_WRAPPER}
    )
    const r = await project.gcl(['--force-shell-executor', '--variable', 'RELEASE_TAG=2.0.0', '--variable', `GITOPS_TOKEN=${SECRET}`])
    expect(r.stdout + r.stderr).not.toContain(SECRET)
    expect(r.code, r.stdout + r.stderr).toBe(0)

    const after = await config.head()
    expect(after).not.toBe(before)
    const [commit] = await config.log(undefined, 1)
    expect(commit.parents).toEqual([before])
    // Quotes, a colon and '#' went through as text; $RELEASE_TAG was expanded by the runner, not a shell.
    expect(commit.subject).toBe(`deploy(web): "2.0.0" to dev: it's #1`)
    expect(await config.readFile('apps/web/overlays/dev/kustomization.yaml')).toMatch(/newTag: "?2\.0\.0"?/)

    const verify = jobOutput(r.stdout, 'verify')
    expect(verify).toContain(`commit=${after} changed=true pushed=true`)
  })

  it('promote pushes dev -> staging and reports through the dotenv report', async () => {
    config = await exampleRepo()
    const before = await config.head()
    project = await scratchProject(
      `stages: [deploy, verify]
include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/promote@$CI_COMMIT_SHA
    inputs:
      cli-source: local
      cli-path: gitops-cli.mjs
      repo: ${config.url}
      from: dev
      next: true
      app: [web, api]
      mode: push

verify:
  stage: verify
  needs: [gitops-promote]
  script:
    - echo "commit=$GITOPS_COMMIT changed=$GITOPS_CHANGED promoted=$GITOPS_PROMOTED"
`,
      {'gitops-cli.mjs': CLI_WRAPPER}
    )
    const r = await project.gcl(['--force-shell-executor'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const after = await config.head()
    expect(after).not.toBe(before)
    const changed = (await config.git(['diff', '--name-only', before, after])).trim().split('\n')
    expect(changed).toEqual([
      'apps/api/overlays/staging/kustomization.yaml',
      'apps/web/overlays/staging/kustomization.yaml'
    ])
    const verify = jobOutput(r.stdout, 'verify').join('\n')
    expect(verify).toContain(`commit=${after} changed=true`)
    // The job log shows what happened and the outputs later jobs get.
    const log = jobOutput(r.stdout, 'gitops-promote').join('\n')
    expect(log).toContain('Outputs for later jobs (dotenv report gitops.env):')
    expect(log).toContain(`  GITOPS_COMMIT=${after}`)
  })

  it("fails the job with the CLI's message and leaves the config repo untouched on bad input", async () => {
    config = await exampleRepo()
    const before = await config.head()
    project = await scratchProject(
      `include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/promote@$CI_COMMIT_SHA
    inputs:
      cli-source: local
      cli-path: gitops-cli.mjs
      repo: ${config.url}
      from: dev
      to: qa
      mode: push
`,
      {'gitops-cli.mjs': CLI_WRAPPER}
    )
    const r = await project.gcl(['--force-shell-executor'])
    expect(r.code).not.toBe(0)
    const log = jobOutput(r.stdout + r.stderr, 'gitops-promote').join('\n')
    expect(log).toMatch(/error: .*qa/)
    expect(await config.head()).toBe(before)
  })

  it.skipIf(missingTool('kubectl'))(
    'the render check refuses an image no container runs, with the same message in input words',
    async () => {
      config = await exampleRepo()
      const before = await config.head()
      project = await scratchProject(
        `include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/set-image@$CI_COMMIT_SHA
    inputs:
      cli-source: local
      cli-path: gitops-cli.mjs
      repo: ${config.url}
      path: [apps/web/overlays/dev]
      image: ghcr.io/acme/wbe:2.0.0
`,
        {'gitops-cli.mjs': CLI_WRAPPER}
      )
      const r = await project.gcl(['--force-shell-executor'])
      expect(r.code).not.toBe(0)
      const log = jobOutput(r.stdout + r.stderr, 'gitops-set-image').join('\n')
      expect(log).toContain(
        'error: render check: apps/web/overlays/dev sets ghcr.io/acme/wbe to ghcr.io/acme/wbe:2.0.0, but no container there runs it'
      )
      expect(log).toContain("'render-check' input never")
      expect(log).not.toContain('--render-check')
      expect(await config.head()).toBe(before)
    }
  )

  it('names the component input, not the CLI flag, when an input is wrong', async () => {
    config = await exampleRepo()
    const before = await config.head()
    project = await scratchProject(
      `include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/promote@$CI_COMMIT_SHA
    inputs:
      cli-source: local
      cli-path: gitops-cli.mjs
      repo: ${config.url}
      from: dev
      to: dev
      mode: push
`,
      {'gitops-cli.mjs': CLI_WRAPPER}
    )
    const r = await project.gcl(['--force-shell-executor'])
    expect(r.code).not.toBe(0)
    const log = jobOutput(r.stdout + r.stderr, 'gitops-promote').join('\n')
    expect(log).toContain("error: 'from' input and 'to' input are both 'dev'")
    expect(log).not.toMatch(/--from|error: error:/)
    expect(await config.head()).toBe(before)
  })

  it('set-image in MR mode opens one merge request with the change table and hands GITOPS_MR_URL on', async () => {
    config = await exampleRepo()
    await config.git(['config', 'receive.denyNonFastForwards', 'false'])
    const before = await config.head()
    const gl = await GitLabDouble.start({
      token: SECRET,
      projects: [{id: 7, path: 'acme/config', gitDir: config.dir}],
      users: [{id: 11, username: 'carol'}]
    })
    try {
      project = await scratchProject(
        `stages: [deploy, verify]
include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/set-image@$CI_COMMIT_SHA
    inputs:
      cli-source: local
      cli-path: gitops-cli.mjs
      repo: ${config.url}
      path: [apps/web/overlays/production]
      image: ghcr.io/acme/web:3.1.0
      mode: pr
      provider: gitlab
      api-url: ${gl.apiUrl}
      title: Deploy web 3.1.0 to production
      labels: [deploy, production]
      reviewers: [carol]

verify:
  stage: verify
  needs: [gitops-set-image]
  script:
    - echo "mr=$GITOPS_MR_URL iid=$GITOPS_MR_IID operation=$GITOPS_MR_OPERATION"
`,
        {'gitops-cli.mjs': CLI_WRAPPER}
      )
      const r = await project.gcl(['--force-shell-executor', '--variable', `GITOPS_TOKEN=${SECRET}`])
      expect(r.stdout + r.stderr).not.toContain(SECRET)
      expect(r.code, r.stdout + r.stderr).toBe(0)
      // The config repo's main branch is untouched: the change waits in the merge request.
      expect(await config.head()).toBe(before)
      expect(gl.mergeRequests).toHaveLength(1)
      const mr = gl.mergeRequests[0]
      expect(mr).toMatchObject({title: 'Deploy web 3.1.0 to production', labels: ['deploy', 'production'], reviewer_ids: [11]})
      expect(mr.description).toContain('| File | Image / key | Change |')
      expect(mr.description).toMatch(/apps\/web\/overlays\/production\/kustomization\.yaml.*→ `[^`]*3\.1\.0`/)
      expect(gl.violations).toEqual([])
      const url = `${gl.origin}/acme/config/-/merge_requests/${mr.iid}`
      expect(jobOutput(r.stdout, 'verify')).toContain(`mr=${url} iid=${mr.iid} operation=created`)
      expect(jobOutput(r.stdout, 'gitops-set-image').join('\n')).toContain(url)
    } finally {
      await gl.close()
    }
  })

  it('argo-app (a generated component) commits the Application manifest and hands GITOPS_OPERATION on', async () => {
    config = await exampleRepo()
    const before = await config.head()
    project = await scratchProject(
      `stages: [deploy, verify]
include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/argo-app@$CI_COMMIT_SHA
    inputs:
      cli-source: local
      cli-path: gitops-cli.mjs
      repo: ${config.url}
      source-repo: https://gitlab.example.com/acme/config.git
      app: web-$ENV_SLUG
      project: web
      path: apps/web/overlays/dev
      revision: main
      dest-server: https://kubernetes.default.svc
      dest-namespace: web-dev
      sync-policy: automated
      finalizer: [resources-finalizer.argocd.argoproj.io]

verify:
  stage: verify
  needs: [gitops-argo-app]
  script:
    - echo "operation=$GITOPS_OPERATION manifest=$GITOPS_MANIFEST commit=$GITOPS_COMMIT"
`,
      {'gitops-cli.mjs': CLI_WRAPPER}
    )
    const r = await project.gcl(['--force-shell-executor', '--variable', 'ENV_SLUG=dev'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const after = await config.head()
    expect(after).not.toBe(before)
    const manifest = await config.readFile('argocd/apps/web-dev.yaml')
    expect(manifest).toContain('name: web-dev')
    expect(manifest).toContain('repoURL: https://gitlab.example.com/acme/config.git')
    expect(manifest).toContain('resources-finalizer.argocd.argoproj.io')
    expect(jobOutput(r.stdout, 'verify')).toContain(`operation=created manifest=argocd/apps/web-dev.yaml commit=${after}`)
  })

  it('set-chart-version (a generated component) bumps Chart.yaml byte-preserving and reports the old version', async () => {
    const chart = 'apiVersion: v2\nname: web\n# bumped by the chart pipeline\nversion: "1.0.0"   # keep quoted\n'
    config = await exampleRepo({'charts/web/Chart.yaml': chart})
    const before = await config.head()
    project = await scratchProject(
      `stages: [deploy, verify]
include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/set-chart-version@$CI_COMMIT_SHA
    inputs:
      cli-source: local
      cli-path: gitops-cli.mjs
      repo: ${config.url}
      file: charts/web/Chart.yaml
      version: $CHART_VERSION

verify:
  stage: verify
  needs: [gitops-set-chart-version]
  script:
    - echo "changed=$GITOPS_CHANGED before=$GITOPS_BEFORE commit=$GITOPS_COMMIT"
`,
      {'gitops-cli.mjs': CLI_WRAPPER}
    )
    const r = await project.gcl(['--force-shell-executor', '--variable', 'CHART_VERSION=1.2.0'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const after = await config.head()
    expect(after).not.toBe(before)
    expect(await config.readFile('charts/web/Chart.yaml')).toBe(chart.replace('"1.0.0"', '"1.2.0"'))
    expect(jobOutput(r.stdout, 'verify')).toContain(`changed=true before=1.0.0 commit=${after}`)
  })

  it('changes: named filters reach the CLI through the filter input', async () => {
    project = await scratchProject(
      `stages: [build]
include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/changes@$CI_COMMIT_SHA
    inputs:
      cli-source: local
      cli-path: gitops-cli.mjs
      build-paths: [src/**]
      base: $CI_COMMIT_SHA
      filter: [docs=docs/**, app=src/**]
      list-files: csv

report:
  stage: build
  needs: [gitops-changes]
  script:
    - echo "docs=$GITOPS_DOCS app=$GITOPS_APP filters=$GITOPS_FILTERS"
`,
      {'gitops-cli.mjs': CLI_WRAPPER, 'src/app.js': 'console.log(1)\n'}
    )
    const r = await project.gcl(['--force-shell-executor'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    // base = head: nothing changed, so both filters are false (they would be unset without the input).
    expect(jobOutput(r.stdout, 'report')).toContain('docs=false app=false filters=[]')
  })

  it('changes: the build job extending .gitops-if-build ends early when nothing to build changed', async () => {
    project = await scratchProject(
      `stages: [build, deploy]
include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/changes@$CI_COMMIT_SHA
    inputs:
      cli-source: local
      cli-path: gitops-cli.mjs
      build-paths: [src/**]
      base: $CI_COMMIT_SHA

build:
  stage: build
  extends: .gitops-if-build
  script:
    - echo "the build ran"
    - exit 1

deploy:
  stage: deploy
  needs: [gitops-changes, build]
  script:
    - echo "deploying tag=$GITOPS_IMAGE_TAG build=$GITOPS_BUILD"
`,
      {'gitops-cli.mjs': CLI_WRAPPER, 'src/app.js': 'console.log(1)\n'}
    )
    const r = await project.gcl(['--force-shell-executor'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const build = jobOutput(r.stdout, 'build').join('\n')
    expect(build).toContain('No build needed:')
    expect(build).not.toContain('the build ran')
    expect(jobOutput(r.stdout, 'deploy').join('\n')).toMatch(/deploying tag=\S+ build=false/)
  })

  it('set-image -> wait: the wait job finds the app, waits for the commit and reports GITOPS_DEPLOYED', async () => {
    config = await exampleRepo()
    const argo = await new ArgoCdDouble().start()
    argo.addProject('default')
    const token = argo.token('ci', [{action: 'get', object: '*/*'}])
    const head = await config.head()
    argo.branchHeads.set('main', head)
    argo.branchHeads.set('HEAD', head)
    argo.seed(
      {
        metadata: {name: 'web-dev', namespace: 'argocd'},
        spec: {
          project: 'default',
          source: {repoURL: config.url, path: 'apps/web/overlays/dev', targetRevision: 'main'},
          destination: {server: IN_CLUSTER, namespace: 'web-dev'},
          syncPolicy: {automated: {}}
        }
      },
      {deployed: true}
    )
    // Argo CD's repo poll: the controller sees the pushed tip shortly after the set-image job.
    let last = head
    const poll = setInterval(() => {
      void config!.head().then(
        now => {
          if (now !== last) {
            last = now
            argo.pushed('main', now, {delayMs: 100})
          }
        },
        () => undefined
      )
    }, 50)
    try {
      project = await scratchProject(
        `stages: [deploy, verify, report]
include:
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/set-image@$CI_COMMIT_SHA
    inputs:
      cli-source: local
      cli-path: gitops-cli.mjs
      repo: ${config.url}
      path: [apps/web/overlays/dev]
      image: ghcr.io/acme/web:2.0.0
  - component: $CI_SERVER_FQDN/acme/gitops-deploy/wait@$CI_COMMIT_SHA
    inputs:
      stage: verify
      cli-source: local
      cli-path: gitops-cli.mjs
      repo: ${config.url}
      argocd-server: ${argo.url}
      environment: dev
      timeout: '60'

gitops-wait:
  needs: [gitops-set-image]

report:
  stage: report
  needs: [gitops-wait, gitops-set-image]
  script:
    - echo "deployed=$GITOPS_DEPLOYED commit=$GITOPS_COMMIT"
`,
        {'gitops-cli.mjs': CLI_WRAPPER}
      )
      const r = await project.gcl([
        '--force-shell-executor',
        '--variable',
        `ARGOCD_AUTH_TOKEN=${token}`,
        '--variable',
        'GITOPS_ARGOCD_POLL_MS=50'
      ])
      expect(r.stdout + r.stderr).not.toContain(token)
      expect(r.code, r.stdout + r.stderr).toBe(0)
      expect(jobOutput(r.stdout, 'gitops-wait').join('\n')).toMatch(/web-dev: deployed \(Synced\/Healthy/)
      expect(jobOutput(r.stdout, 'report')).toContain(`deployed=true commit=${await config.head()}`)
    } finally {
      clearInterval(poll)
      await argo.close()
    }
  })
})
