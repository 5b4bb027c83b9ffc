import {describe, expect, it} from 'vitest'
import {authFailureMessage, authFromEnv} from '../../src/git/auth.js'
import {commitUrl} from '../../src/forge/registry.js'
import {displayUrl, parseRemoteUrl} from '../../src/git/remote-url.js'
import {UsageError} from '../../src/core/errors.js'
import {Redactor} from '../../src/core/redact.js'
import {fakeToken} from '../helpers/fake-token.js'

const TOKEN = fakeToken('ghs_', 'SecretValue')

describe('parseRemoteUrl', () => {
  it('turns plain paths into file:// URLs so --depth is honoured', () => {
    expect(parseRemoteUrl('../config.git', '/work/app')).toEqual({
      url: 'file:///work/config.git',
      transport: 'file'
    })
    expect(parseRemoteUrl('/srv/config.git', '/x').url).toBe('file:///srv/config.git')
  })
  it('recognises https with its auth scope and web URL', () => {
    const r = parseRemoteUrl('https://github.com/acme/config.git', '/')
    expect(r).toMatchObject({
      transport: 'http',
      origin: 'https://github.com/',
      webUrl: 'https://github.com/acme/config'
    })
    expect(commitUrl(r, 'abc')).toBe('https://github.com/acme/config/commit/abc')
    expect(commitUrl(parseRemoteUrl('https://gitlab.com/g/p', '/'), 'abc')).toBe(
      'https://gitlab.com/g/p/-/commit/abc'
    )
  })
  it('recognises SSH forms', () => {
    expect(parseRemoteUrl('git@github.com:acme/config.git', '/')).toMatchObject({
      transport: 'ssh',
      webUrl: 'https://github.com/acme/config'
    })
    expect(parseRemoteUrl('ssh://git@gitlab.example.com:2222/g/p.git', '/')).toMatchObject({
      transport: 'ssh',
      webUrl: 'https://gitlab.example.com/g/p'
    })
    expect(commitUrl(parseRemoteUrl('file:///x.git', '/'), 'abc')).toBeUndefined()
  })
  it('refuses credentials in the URL, naming the fix', () => {
    expect(() =>
      parseRemoteUrl(`https://x-access-token:${TOKEN}@github.com/acme/config`, '/')
    ).toThrow(UsageError)
    try {
      parseRemoteUrl(`https://x-access-token:${TOKEN}@github.com/acme/config`, '/')
    } catch (e) {
      expect((e as Error).message).toContain('GITOPS_TOKEN')
      expect((e as Error).message).not.toContain(TOKEN)
    }
  })
  it('refuses unsupported schemes', () => {
    expect(() => parseRemoteUrl('ftp://host/x', '/')).toThrow(/unsupported scheme/)
  })
  it('refuses any user name in an http(s) URL: it is where a token gets pasted', () => {
    expect(() => parseRemoteUrl('https://bot@github.com/a/b', '/')).toThrow(
      /--repo contains a password or token; remove it from the URL and set GITOPS_TOKEN/
    )
  })
})

describe('authFromEnv', () => {
  it('passes a token as an origin-scoped Basic header and registers it for redaction', () => {
    const redactor = new Redactor()
    const auth = authFromEnv(
      parseRemoteUrl('https://github.com/acme/config', '/'),
      {GITOPS_TOKEN: TOKEN},
      redactor
    )
    const basic = Buffer.from(`x-access-token:${TOKEN}`).toString('base64')
    expect(auth.config).toEqual({
      'http.https://github.com/.extraHeader': `Authorization: Basic ${basic}`,
      'credential.helper': '',
      'http.followRedirects': 'false'
    })
    expect(auth).toMatchObject({method: 'token', variable: 'GITOPS_TOKEN', user: 'x-access-token'})
    expect(redactor.redact(`a ${TOKEN} b ${basic}`)).toBe('a *** b ***')
  })
  it('honours GITOPS_TOKEN_USER', () => {
    const auth = authFromEnv(
      parseRemoteUrl('https://gitlab.com/g/p', '/'),
      {GITOPS_TOKEN: TOKEN, GITOPS_TOKEN_USER: 'oauth2'},
      new Redactor()
    )
    expect(auth.user).toBe('oauth2')
    expect(Object.values(auth.config)[0]).toBe(
      `Authorization: Basic ${Buffer.from(`oauth2:${TOKEN}`).toString('base64')}`
    )
  })
  it('never sends the token over SSH or file transports', () => {
    expect(
      authFromEnv(parseRemoteUrl('git@github.com:a/b', '/'), {GITOPS_TOKEN: TOKEN}, new Redactor())
    ).toEqual({config: {}, method: 'ssh'})
    expect(
      authFromEnv(parseRemoteUrl('/x.git', '/'), {GITOPS_TOKEN: TOKEN}, new Redactor())
    ).toEqual({config: {}, method: 'none'})
  })
  it('explains failures by variable and scope, never by value', () => {
    const auth = authFromEnv(
      parseRemoteUrl('https://github.com/a/b', '/'),
      {GITOPS_TOKEN: TOKEN},
      new Redactor()
    )
    const rejected = authFailureMessage(auth, 'github.com', 'push', 401)
    expect(rejected).toMatch(/GITOPS_TOKEN .*rejected/)
    expect(rejected).toContain('contents: write')
    expect(rejected).not.toContain(TOKEN)
    expect(authFailureMessage(auth, 'github.com', 'push', 403)).toMatch(
      /accepted .* not allowed to push/
    )
    expect(authFailureMessage({config: {}, method: 'none'}, 'h', 'read')).toMatch(
      /no token was given; set GITOPS_TOKEN/
    )
    expect(authFailureMessage({config: {}, method: 'ssh'}, 'h', 'push')).toMatch(
      /ssh-agent or set GIT_SSH_COMMAND/
    )
  })
})
