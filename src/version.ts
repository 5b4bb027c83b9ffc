import {readFileSync} from 'node:fs'

/**
 * scripts/build.ts replaces this literal in the bundle with package.json's version (and fails
 * when it cannot find it exactly once), so `gitops-deploy --version` names the release that
 * was built. Run from source (tsx, tests) the placeholder is still here and package.json,
 * one level above src/, is read instead: either way the number comes from package.json.
 */
const INJECTED: string = '__GITOPS_DEPLOY_VERSION__'

function fromPackageJson(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: unknown
    }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown'
  }
}

export const VERSION: string = INJECTED.startsWith('__') ? fromPackageJson() : INJECTED
