import {ArgoCdDouble, IN_CLUSTER} from '../doubles/argocd-double.js'
import {cli as rawCli, type CliRun as BaseRun} from '../helpers/cli.js'

export const REPO = 'https://git.example.com/org/deploy.git'
export const SHA1 = '1111111111111111111111111111111111111111'
export const SHA2 = '2222222222222222222222222222222222222222'

export interface CliRun extends BaseRun {
  /** stdout parsed, when --json was given */
  json?: Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A double with project `shop`, an all-powerful token and fast controller steps. */
export async function startDouble(): Promise<{double: ArgoCdDouble; token: string}> {
  const double = await new ArgoCdDouble().start()
  double.addProject('default')
  double.addProject('shop', {
    sourceRepos: [REPO],
    destinations: [
      {server: IN_CLUSTER, namespace: 'shop-*'},
      {name: 'in-cluster', namespace: 'shop-*'}
    ]
  })
  const token = double.token('ci', [{action: '*', object: 'shop/*'}])
  return {double, token}
}

export function baseArgs(double: ArgoCdDouble, extra: string[] = []): string[] {
  return [
    'argo-upsert',
    '--server',
    double.url,
    '--app',
    'web',
    '--project',
    'shop',
    '--repo',
    REPO,
    '--path',
    'overlays/dev',
    '--revision',
    SHA1,
    '--dest-server',
    IN_CLUSTER,
    '--dest-namespace',
    'shop-dev',
    ...extra
  ]
}

export const AVP = [
  '--plugin',
  'argocd-vault-plugin-kustomize',
  '--plugin-env',
  'AVP_SECRET=shop-vault',
  '--plugin-env',
  `APP_REPO=${REPO}`,
  '--plugin-env',
  'IMAGE_NAME=registry.example.com/shop/web'
]

export async function cli(
  args: string[],
  env: Record<string, string | undefined>
): Promise<CliRun> {
  const run: CliRun = await rawCli(args, {
    GITOPS_ARGOCD_POLL_MS: '40',
    GITOPS_ARGOCD_RETRY_MS: '5',
    ...env
  })
  if (args.includes('--json') && run.stdout.trim().startsWith('{'))
    run.json = JSON.parse(run.stdout)
  return run
}
