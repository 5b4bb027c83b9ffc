/**
 * `npm run demo:wait`: the loop closed, end to end, with no cluster.
 * 1. turns examples/config-repo into a local bare repo (the config repo)
 * 2. starts the Argo CD double of the test suite (an in-process server that answers like
 *    the real API and simulates the controller: it sees a push after a short delay, compares,
 *    auto-syncs and rolls out) with three apps on that repo
 * 3. runs the bundled CLI: set-image --repo file://... --wait on the staging overlay of `web`
 * The run finds web-staging and all-web (an app over the whole apps/web directory), leaves
 * web-production out, and waits until both run the pushed commit, Synced and Healthy.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ArgoCdDouble, IN_CLUSTER} from '../test/doubles/argocd-double.js'
import {exampleRemote, git, root} from './example-remote.mjs'

const tmp = mkdtempSync(join(tmpdir(), 'gitops-demo-wait-'))

async function main(): Promise<number> {
  const {bare, url} = exampleRemote(tmp)
  const head = () => git(tmp, '--git-dir', bare, 'rev-parse', 'main').trim()

  const argo = await new ArgoCdDouble().start()
  argo.stepMs = 300
  argo.addProject('default')
  const token = argo.token('ci', [{action: 'get', object: '*/*'}])
  argo.branchHeads.set('main', head())
  argo.branchHeads.set('HEAD', head())
  for (const [name, path] of [
    ['web-staging', 'apps/web/overlays/staging'],
    ['web-production', 'apps/web/overlays/production'],
    ['all-web', 'apps/web']
  ]) {
    argo.seed(
      {
        metadata: {name, namespace: 'argocd'},
        spec: {
          project: 'default',
          source: {repoURL: url, path, targetRevision: 'main'},
          destination: {server: IN_CLUSTER, namespace: 'web'},
          syncPolicy: {automated: {prune: true}}
        }
      },
      {deployed: true}
    )
  }
  // Argo CD's repo poll, shortened: the controller learns of a new tip a second later.
  let last = head()
  const poll = setInterval(() => {
    const now = head()
    if (now !== last) {
      last = now
      console.log(`[argo cd double] saw ${now.slice(0, 12)} on main; comparing and auto-syncing`)
      argo.pushed('main', now, {delayMs: 1000})
    }
  }, 100)
  try {
    const args = [
      join(root, 'dist', 'cli.js'),
      'set-image',
      '--repo',
      url,
      '--path',
      'apps/web/overlays/staging',
      '--image',
      'ghcr.io/acme/web:1.5.0',
      '--wait',
      '--argocd-server',
      argo.url,
      '--timeout',
      '60'
    ]
    console.log(`config repo: ${url}\nArgo CD (double): ${argo.url}\n`)
    console.log(`$ ARGOCD_AUTH_TOKEN=*** gitops-deploy ${args.slice(1).join(' ')}`)
    const child = spawn(process.execPath, args, {
      env: {...process.env, ARGOCD_AUTH_TOKEN: token, GITOPS_ARGOCD_POLL_MS: '500'},
      stdio: ['ignore', 'inherit', 'inherit']
    })
    const code = await new Promise<number>(done => child.on('close', c => done(c ?? 1)))
    console.log(`\nexit code ${code}`)
    return code
  } finally {
    clearInterval(poll)
    await argo.close()
  }
}

main()
  .then(code => {
    process.exitCode = code
  })
  .catch(e => {
    console.error(`demo failed: ${(e as Error).message}`)
    process.exitCode = 1
  })
  .finally(() => rmSync(tmp, {recursive: true, force: true}))
