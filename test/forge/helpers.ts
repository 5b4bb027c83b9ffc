import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {Redactor} from '../../src/core/redact.js'
import type {PrChange} from '../../src/forge/pr-body.js'
import type {PrLifecycleInput} from '../../src/delivery/pull-request.js'
import {kustomization, makeBareRepo, type BareRepo} from '../helpers/git-fixtures.js'
import {fakeToken} from '../helpers/fake-token.js'

export const TOKEN = fakeToken('ghs_', 'forgeTestToken')

/** A config repo with two apps whose dev overlays pin `ghcr.io/acme/<app>:1.0.0`; force pushes allowed like an unprotected branch. */
export async function configRepo(): Promise<BareRepo> {
  const repo = await makeBareRepo({
    'apps/web/overlays/dev/kustomization.yaml': kustomization('ghcr.io/acme/web', '1.0.0'),
    'apps/api/overlays/dev/kustomization.yaml': kustomization('ghcr.io/acme/api', '1.0.0')
  })
  await repo.git(['config', 'receive.denyNonFastForwards', 'false'])
  return repo
}

/**
 * A deliberately small edit for lifecycle tests (the real engine is tested
 * on its own): set `newTag` in one kustomization.
 */
export function setTag(path: string, image: string, tag: string): PrLifecycleInput['edit'] {
  return async dir => {
    const file = join(dir, path, 'kustomization.yaml')
    const text = await readFile(file, 'utf8')
    const before = /newTag: (\S+)/.exec(text)?.[1] ?? ''
    if (before === tag) return []
    await writeFile(file, text.replace(/newTag: \S+/, `newTag: ${tag}`))
    const change: PrChange = {file: `${path}/kustomization.yaml`, image, before, after: tag}
    return [change]
  }
}

export interface Logged {
  lines: string[]
  log: PrLifecycleInput['log']
}

export function memoryLog(redactor = new Redactor()): Logged {
  const lines: string[] = []
  return {
    lines,
    log: {
      info: m => void lines.push(redactor.redact(m)),
      debug: m => void lines.push(`debug: ${redactor.redact(m)}`),
      warning: m => void lines.push(`warning: ${redactor.redact(m)}`)
    }
  }
}

export const IDENTITY = {name: 'gitops-deploy', email: 'gitops-deploy@users.noreply.example.com'}
