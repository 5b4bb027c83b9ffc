/**
 * `wait` finding the apps that deploy a change among 1,000 Applications on
 * the Argo CD double (real HTTP, real JSON): one List call filtered by repo,
 * matched locally, against the naive way (list, then GET every app to read
 * its source). Prints wall time and requests for both.
 */
import {matchApps, listCandidateApps} from '../src/argocd/discover.js'
import {ArgoClient} from '../src/argocd/client.js'
import type {Application} from '../src/argocd/types.js'
import {ArgoCdDouble, IN_CLUSTER} from '../test/doubles/argocd-double.js'

const APPS = 1000
const REPO = 'https://git.example.com/acme/config.git'

export async function run(): Promise<void> {
  const double = await new ArgoCdDouble().start()
  double.addProject('default')
  const token = double.token('bench', [{action: 'get', object: '*/*'}])
  for (let i = 0; i < APPS; i++) {
    const app = `app-${String(i).padStart(4, '0')}`
    double.seed(
      {
        metadata: {name: app, namespace: 'argocd'},
        spec: {
          project: 'default',
          // Every tenth app reads another repo, as on a shared Argo CD.
          source: {
            repoURL: i % 10 === 0 ? 'https://git.example.com/other/repo.git' : REPO,
            path: `apps/${app}/overlays/prod`,
            targetRevision: 'main'
          },
          destination: {server: IN_CLUSTER, namespace: app}
        }
      },
      {deployed: true}
    )
  }
  const client = new ArgoClient({server: double.url, token, retryBaseMs: 5})
  const target = {
    repo: REPO,
    branch: 'main',
    defaultBranch: 'main',
    commit: 'a'.repeat(40),
    paths: ['apps/app-0421/overlays/prod/kustomization.yaml']
  }
  const signal = new AbortController().signal
  try {
    const time = async (fn: () => Promise<number>) => {
      const before = double.requests.length
      const t = performance.now()
      const found = await fn()
      return {ms: performance.now() - t, requests: double.requests.length - before, found}
    }
    const ours = await time(async () => {
      const {apps} = await listCandidateApps(client, {repo: REPO, signal})
      return matchApps(apps, target).matched.length
    })
    const naive = await time(async () => {
      const {apps} = await listCandidateApps(client, {repo: 'unfiltered-names-only', signal})
      const full: Application[] = []
      for (const a of apps) {
        full.push(
          await client.requestApp('GET', `/api/v1/applications/${a.metadata.name}`, {signal})
        )
      }
      return matchApps(full, target).matched.length
    })
    console.log(`${APPS} applications, one change:`)
    console.log(
      `  ours  (List ?repo=, match locally): ${ours.ms.toFixed(0)} ms, ${ours.requests} request(s), ${ours.found} app found`
    )
    console.log(
      `  naive (List, then GET every app):  ${naive.ms.toFixed(0)} ms, ${naive.requests} requests, ${naive.found} app found`
    )
    console.log(
      `  ratio: ${(naive.ms / ours.ms).toFixed(1)}x faster, ${(naive.requests / ours.requests).toFixed(0)}x fewer requests`
    )
  } finally {
    client.close()
    await double.close()
  }
}
