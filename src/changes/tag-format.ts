import {OperationError, UsageError} from '../core/errors.js'

export const PLACEHOLDERS = ['sha', 'short', 'branch', 'tag'] as const
export type Placeholder = (typeof PLACEHOLDERS)[number]

export interface TagFormat {
  template: string
  uses: ReadonlySet<Placeholder>
}

/**
 * Validates the template up front: an unknown placeholder or a character a
 * registry rejects would otherwise surface only when the deploy job pulls.
 */
export function parseTagFormat(template: string): TagFormat {
  const uses = new Set<Placeholder>()
  const literal = template.replace(/\{([^{}]*)\}/g, (_, name: string) => {
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new UsageError(
        `unknown placeholder {${name}} in --tag-format '${template}'; use {sha}, {short}, {branch} or {tag}`
      )
    }
    uses.add(name as Placeholder)
    return ''
  })
  if (/[{}]/.test(literal)) {
    throw new UsageError(
      `unbalanced brace in --tag-format '${template}'; write placeholders as {sha}`
    )
  }
  if (/[^A-Za-z0-9_.-]/.test(literal)) {
    throw new UsageError(
      `--tag-format '${template}' has characters an image tag cannot hold; use letters, digits, '_', '.', '-' around the placeholders`
    )
  }
  if (uses.size === 0) {
    throw new UsageError(
      `--tag-format '${template}' has no placeholder, so every commit would get the same tag; include {sha} or {short}`
    )
  }
  return {template, uses}
}

/** Branch and tag names may hold '/', which image tags cannot. */
export function sanitizeRefName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '-')
}

export interface TagValues {
  sha: string
  branch?: string
  tag?: string
}

export function formatTag(format: TagFormat, values: TagValues): string {
  const missing = (what: Placeholder, fix: string) =>
    new OperationError(`--tag-format '${format.template}' uses {${what}}, but ${fix}`)
  const out = format.template.replace(/\{(sha|short|branch|tag)\}/g, (_, name: Placeholder) => {
    switch (name) {
      case 'sha':
        return values.sha
      case 'short':
        return values.sha.slice(0, 7)
      case 'branch':
        if (!values.branch) {
          throw missing(
            'branch',
            'this run is not on a branch; run on a branch pipeline or use {sha}/{short}'
          )
        }
        return sanitizeRefName(values.branch)
      case 'tag':
        if (!values.tag) {
          throw missing(
            'tag',
            `no tag points at ${values.sha.slice(0, 12)}; run on a tag pipeline or use {sha}/{short}`
          )
        }
        return sanitizeRefName(values.tag)
    }
  })
  // Registries accept [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
  const tag = out.replace(/^[.-]+/, '').slice(0, 128)
  if (!tag)
    throw new OperationError(
      `--tag-format '${format.template}' produced an empty tag; include {sha}`
    )
  return tag
}
