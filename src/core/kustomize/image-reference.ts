/**
 * The OCI distribution reference grammar (distribution/reference), checked
 * on each part of a `--image` argument after kustomize's own split. Kustomize
 * accepts `web:bad tag!` or `Ghcr.io/ACME/web::` and writes them; no
 * registry can hold such a reference, so the deploy would fail later, in
 * the cluster. Here it fails before anything is read, naming the part.
 */
import {PRESERVE, type ImageEntry} from './image-arg.js'

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/
const PORT = /^[0-9]+$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/
const DIGEST_LENGTH: Record<string, number> = {sha256: 64, sha384: 96, sha512: 128}
const MAX_NAME = 255

const PATH_RULE =
  "lowercase letters and digits, separated by '.', '_', '__' or '-', in components split by '/'"

/** Why `name` is not a repository name (with an optional registry host), or undefined. */
export function repositoryProblem(name: string): string | undefined {
  if (name.length > MAX_NAME)
    return `is ${name.length} characters long; at most ${MAX_NAME} are allowed`
  const parts = name.split('/')
  // Like docker: the first component is a registry host when it has a '.' or ':', is
  // localhost, or has an uppercase letter (repository paths cannot).
  const first = parts[0]
  const isHost =
    parts.length > 1 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || /[A-Z]/.test(first))
  if (isHost) {
    const [host, port, extra] = first.split(':')
    if (extra !== undefined || (port !== undefined && !PORT.test(port))) {
      return `has registry ${JSON.stringify(first)} with an invalid port; a registry is host[:port], the port digits only`
    }
    const bad = host.split('.').find(c => !DOMAIN_COMPONENT.test(c))
    if (bad !== undefined) {
      return `has registry host ${JSON.stringify(host)}, which is not a host name (letters, digits and '-', in labels split by '.')`
    }
    parts.shift()
  }
  const bad = parts.find(c => !PATH_COMPONENT.test(c))
  if (bad !== undefined) {
    return `has path component ${JSON.stringify(bad)}, which is not allowed: a repository path is ${PATH_RULE}${/[A-Z]/.test(bad) ? ' (write it in lowercase)' : ''}`
  }
  return undefined
}

/** Why `tag` is not a tag, or undefined. */
export function tagProblem(tag: string): string | undefined {
  if (TAG.test(tag)) return undefined
  return `the tag ${JSON.stringify(tag)} is not valid: a tag is 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'`
}

/** Why `digest` is not a digest, or undefined. */
export function digestProblem(digest: string): string | undefined {
  if (!DIGEST.test(digest)) {
    return `the digest ${JSON.stringify(digest)} is not valid: a digest is algorithm:hex, e.g. sha256: followed by 64 hex digits`
  }
  const [algorithm, hex] = digest.split(':')
  const want = DIGEST_LENGTH[algorithm]
  if (want !== undefined && hex.length !== want) {
    return `the digest ${JSON.stringify(digest)} is not valid: a ${algorithm} digest has ${want} hex digits, this one has ${hex.length}`
  }
  if (want !== undefined && /[A-F]/.test(hex)) {
    return `the digest ${JSON.stringify(digest)} is not valid: its hex digits must be lowercase`
  }
  return undefined
}

/**
 * The first part of a parsed `--image` argument that no registry accepts,
 * described with what is allowed; undefined when every part is valid. `*`
 * (kustomize's keep-the-current-value) passes where kustomize allows it.
 */
export function imageEntryProblem(entry: ImageEntry): string | undefined {
  if (entry.name !== undefined && entry.name !== '') {
    const p = repositoryProblem(entry.name)
    if (p) return `the image name ${JSON.stringify(entry.name)} ${p}`
  }
  if (entry.newName !== undefined && entry.newName !== PRESERVE) {
    const p = repositoryProblem(entry.newName)
    if (p) return `the new image name ${JSON.stringify(entry.newName)} ${p}`
  }
  if (entry.newTag !== undefined && entry.newTag !== PRESERVE) {
    const p = tagProblem(entry.newTag)
    if (p) return p
  }
  if (entry.digest !== undefined && entry.digest !== PRESERVE) {
    const p = digestProblem(entry.digest)
    if (p) return p
  }
  return undefined
}
