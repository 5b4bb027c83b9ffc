/**
 * The argument grammar of `kustomize edit set image`, mirrored from
 * kustomize/commands/edit/set/setimage.go (parse, imageArgParse) and
 * api/internal/image/image.go (Split). Kept bug-compatible on purpose: users
 * move between this tool and kustomize and must get the same `images:` list.
 */

/** One `images:` entry; an absent field and an empty string mean the same. */
export interface ImageEntry {
  name?: string
  newName?: string
  newTag?: string
  digest?: string
  tagSuffix?: string
}

export const IMAGE_FIELDS = ['name', 'newName', 'newTag', 'digest', 'tagSuffix'] as const
export type ImageField = (typeof IMAGE_FIELDS)[number]

/** `*` as a whole newName/newTag/digest keeps the value already in the file. */
export const PRESERVE = '*'

/** Kustomize's own text, so people can search for it. */
export const INVALID_IMAGE_FORMAT =
  'invalid format of image, use one of the following options: <image>=<newimage>:<newtag>, ' +
  '<image>=<newimage>@<digest>, <image>=<newimage>:<newtag>@<digest>, <image>=<newimage>, ' +
  '<image>:<newtag>, <image>:<newtag>@<digest>, <image>@<digest>'

export type ParsedImageArg = {kind: 'ok'; entry: ImageEntry} | {kind: 'invalid'; arg: string}

/**
 * Splits an image reference into repository, tag and digest. Separators are
 * looked for only after the first `/` (when it is not the first character), so
 * a `host:port/` prefix never counts as a tag.
 */
export function splitImage(value: string): {name: string; tag: string; digest: string} {
  let search = value
  let slash = value.indexOf('/')
  if (slash > 0) search = value.slice(slash)
  else slash = 0
  let id = search.indexOf('@')
  let ic = search.indexOf(':')
  if (ic < 0 && id < 0) return {name: value, tag: '', digest: ''}
  if (id >= 0 && (id < ic || ic < 0)) {
    id += slash
    return {name: value.slice(0, id), tag: '', digest: value.slice(id + 1)}
  }
  if (id >= 0 && ic >= 0) {
    id += slash
    ic += slash
    return {name: value.slice(0, ic), tag: value.slice(ic + 1, id), digest: value.slice(id + 1)}
  }
  ic += slash
  return {name: value.slice(0, ic), tag: value.slice(ic + 1), digest: ''}
}

/** Parses one `--image` argument exactly as `kustomize edit set image` does. */
export function parseImageArg(arg: string): ParsedImageArg {
  const eq = arg.indexOf('=')
  const key = eq >= 0 ? arg.slice(0, eq) : ''
  const value = eq >= 0 ? arg.slice(eq + 1) : arg
  const {name, tag, digest} = splitImage(value)
  // Kustomize's only validity check: something must have been split off.
  if (name === arg) return {kind: 'invalid', arg}
  const entry: ImageEntry = {}
  if (key === '') entry.name = name
  else {
    entry.name = key
    if (name) entry.newName = name
  }
  if (tag) entry.newTag = tag
  if (digest) entry.digest = digest
  if (entry.name === '') delete entry.name
  return {kind: 'ok', entry}
}

/** The entry as a compact reference: `reg/web:1.2@sha256:…` (newName or name). */
export function formatImageEntry(entry: ImageEntry): string {
  const repo = entry.newName || entry.name || ''
  // kustomize appends tagSuffix to the tag; naming it keeps an edit that drops it visible.
  const suffix = entry.tagSuffix ? ` (tagSuffix ${entry.tagSuffix})` : ''
  return `${repo}${entry.newTag ? `:${entry.newTag}` : ''}${entry.digest ? `@${entry.digest}` : ''}${suffix}`
}

/** Drops empty fields so entries compare by meaning. */
export function normalizeEntry(entry: ImageEntry): ImageEntry {
  const out: ImageEntry = {}
  for (const f of IMAGE_FIELDS) if (entry[f]) out[f] = entry[f]
  return out
}

export function sameEntry(a: ImageEntry, b: ImageEntry): boolean {
  return IMAGE_FIELDS.every(f => (a[f] || '') === (b[f] || ''))
}
