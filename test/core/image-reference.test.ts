import {describe, expect, it} from 'vitest'
import {parseImageArg} from '../../src/core/kustomize/image-arg.js'
import {
  digestProblem,
  imageEntryProblem,
  repositoryProblem,
  tagProblem
} from '../../src/core/kustomize/image-reference.js'

const SHA = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'

function problem(arg: string): string | undefined {
  const parsed = parseImageArg(arg)
  if (parsed.kind !== 'ok') throw new Error(`kustomize refuses ${arg}`)
  return imageEntryProblem(parsed.entry)
}

describe('OCI reference grammar on --image arguments', () => {
  it('accepts every form kustomize documents, registries with ports, digests and *', () => {
    for (const arg of [
      'web:1.5.0',
      'ghcr.io/acme/web:1.5.0',
      'web=ghcr.io/acme/web:1.5.0',
      `web=registry.example.com:5000/team/web:v1_2-rc.3@sha256:${SHA}`,
      `web@sha256:${SHA}`,
      `web:1@sha256:${SHA}`,
      'localhost:5000/web:1',
      'web=*:2.0',
      'web:*',
      'acme/a.b__c/d-e---f:latest',
      'web=ghcr.io/acme/web'
    ]) {
      expect(problem(arg), arg).toBeUndefined()
    }
  })

  it('names the part that is wrong and what is allowed', () => {
    expect(problem('web:bad tag!')).toBe(
      `the tag "bad tag!" is not valid: a tag is 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'`
    )
    expect(problem('Ghcr.io/ACME/web::')).toMatch(
      /^the image name "Ghcr.io\/ACME\/web" has path component "ACME", which is not allowed: .* \(write it in lowercase\)$/
    )
    expect(problem('ghcr.io/acme/web::')).toMatch(/^the tag ":" is not valid/)
    expect(problem('web=ghcr.io:http/acme/web:1')).toMatch(/invalid port/)
    expect(problem('web=gh_cr.io/acme/web:1')).toMatch(
      /registry host "gh_cr.io", which is not a host name/
    )
    expect(problem('web@sha256:abc')).toMatch(/a digest is algorithm:hex/)
    expect(problem(`web@sha256:${SHA}00`)).toBe(
      `the digest "sha256:${SHA}00" is not valid: a sha256 digest has 64 hex digits, this one has 66`
    )
    expect(problem(`web:${'x'.repeat(129)}`)).toMatch(/1 to 128/)
    expect(problem('web:-1')).toMatch(/not starting with '.' or '-'/)
    expect(problem('web:1.0\nSigned-off-by: x')).toMatch(/is not valid/)
  })

  it('checks each part on its own', () => {
    expect(repositoryProblem(`a/${'b'.repeat(260)}`)).toMatch(/at most 255/)
    expect(tagProblem('v1')).toBeUndefined()
    expect(digestProblem(`sha512:${'a'.repeat(128)}`)).toBeUndefined()
    expect(digestProblem(`sha256:${SHA.toUpperCase()}`)).toMatch(/lowercase/)
  })
})
