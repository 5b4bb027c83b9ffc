import {readFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {UsageError} from '../core/errors.js'
import {resolveCiContext, type CiContext, type GithubEvent} from '../changes/ci-context.js'
import {detectChanges, type ChangesResult} from '../changes/detect.js'
import {createFilter, splitGlobs, type PathFilter} from '../changes/filter.js'
import {topLevel} from '../changes/history.js'
import {parseTagFormat, type TagFormat} from '../changes/tag-format.js'
import type {Platform} from '../platform/port.js'
import {defineCommand, type Env} from './types.js'

export interface ChangesSettings {
  root: string
  remote: string
  filter: PathFilter
  tagFormat: TagFormat
  context: CiContext
}

const SHA_OR_REV = /^[A-Za-z0-9_./^~@{}-]+$/

function readEvent(env: Env, platform: Platform): GithubEvent | undefined {
  if (env.GITHUB_ACTIONS !== 'true' || !env.GITHUB_EVENT_PATH) return undefined
  try {
    return JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8')) as GithubEvent
  } catch (e) {
    // The context resolver turns a missing payload into a fail-open build.
    platform.warning(`could not read the event payload ${env.GITHUB_EVENT_PATH}: ${String(e)}`)
    return undefined
  }
}

function revOption(value: string | undefined, name: string): string | undefined {
  const v = value?.trim()
  if (!v) return undefined
  if (!SHA_OR_REV.test(v) || v.startsWith('-')) {
    throw new UsageError(`--${name} '${v}' is not a commit; pass a commit sha`)
  }
  return v
}

export const changesCommand = defineCommand<ChangesSettings, ChangesResult>({
  name: 'changes',
  description: 'Decide whether the image must be built, and which already-built tag to deploy',
  options: [
    {
      name: 'build-paths',
      type: 'list',
      description:
        "Globs (from the repository root) of the image's inputs, e.g. 'src/**', Dockerfile; one per line or comma-separated; '!glob' excludes"
    },
    {
      name: 'ignore-paths',
      type: 'list',
      description: 'Globs excluded from the build paths, e.g. **/*.md'
    },
    {
      name: 'base',
      type: 'string',
      description: 'Compare with this commit (e.g. the last deployed one) instead of the CI event'
    },
    {
      name: 'head',
      type: 'string',
      description: 'The commit to judge',
      default: 'the CI commit, else HEAD'
    },
    {
      name: 'tag-format',
      type: 'string',
      description: 'Image tag template: {sha}, {short} (7 characters), {branch}, {tag}',
      default: '{sha}'
    },
    {
      name: 'root',
      short: 'C',
      type: 'string',
      cliOnly: true,
      description: "The application repository's checkout",
      default: '.'
    },
    {
      name: 'default-branch',
      type: 'string',
      description: 'Branch new branches are compared with',
      default: 'from the CI context, else the remote HEAD'
    },
    {
      name: 'remote',
      type: 'string',
      description: 'Remote to deepen a shallow clone from',
      default: 'origin'
    }
  ],
  outputSpecs: [
    {
      name: 'build',
      description:
        "'true' when the image must be built, 'false' when an earlier image can be deployed"
    },
    {
      name: 'image-tag',
      description: 'Tag of the image to deploy: built now when build is true, reused otherwise'
    },
    {
      name: 'source-commit',
      description: 'The newest commit that changed the build paths; the image holds its inputs'
    },
    {
      name: 'base',
      description: 'The commit the changes were computed against (empty when there was none)'
    },
    {name: 'head', description: 'The commit judged'},
    {name: 'changed-files', description: 'How many files changed between base and head'},
    {name: 'reason', description: 'Why build is true or false'}
  ],
  settings(input, env, platform) {
    const buildGlobs = splitGlobs(input.list('build-paths'))
    const ignoreGlobs = splitGlobs(input.list('ignore-paths'))
    const filter = createFilter(buildGlobs, ignoreGlobs)
    const tagFormat = parseTagFormat(input.string('tag-format')?.trim() || '{sha}')
    // Actions and GitLab jobs start in the workspace, so the working directory is the checkout.
    const root = resolve(input.string('root') ?? '.')
    const remote = input.string('remote')?.trim() || 'origin'
    if (remote.startsWith('-'))
      throw new UsageError(`--remote '${remote}' is not a remote name; pass e.g. origin`)
    const context = resolveCiContext(env, readEvent(env, platform), {
      base: revOption(input.string('base'), 'base'),
      head: revOption(input.string('head'), 'head'),
      defaultBranch: input.string('default-branch')?.trim() || undefined
    })
    return {root, remote, filter, tagFormat, context}
  },
  async run(settings, platform) {
    const cwd = await topLevel(settings.root)
    return platform.group('Detect changes', () =>
      detectChanges({
        cwd,
        remote: settings.remote,
        filter: settings.filter,
        tagFormat: settings.tagFormat,
        context: settings.context,
        log: m => platform.debug(m),
        history: {redactor: platform.redactor}
      })
    )
  },
  outputs: r => ({
    build: String(r.kind === 'build'),
    'image-tag': r.imageTag,
    'source-commit': r.sourceCommit,
    base: r.base ?? '',
    head: r.head,
    'changed-files': r.changedFiles === undefined ? '' : String(r.changedFiles),
    reason: r.reason
  }),
  json: r => ({
    build: r.kind === 'build',
    imageTag: r.imageTag,
    sourceCommit: r.sourceCommit,
    base: r.base ?? null,
    head: r.head,
    changedFiles: r.changedFiles ?? null,
    matchedFiles: r.matchedFiles,
    reason: r.reason,
    failOpen: r.kind === 'build' && r.failOpen,
    event: r.event,
    fetches: r.fetches
  }),
  summary: r => {
    const rows = [
      ['build', r.kind === 'build' ? '**yes**' : 'no, reuse'],
      ['image tag', `\`${r.imageTag}\``],
      ['source commit', `\`${r.sourceCommit}\``],
      ['base', r.base ? `\`${r.base}\`` : '(none)'],
      ['head', `\`${r.head}\``],
      ['changed files', r.changedFiles === undefined ? '-' : String(r.changedFiles)]
    ]
    const table = ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n')
    const matched = r.matchedFiles.slice(0, 20).map(f => `- \`${f}\``)
    if (r.matchedFiles.length > 20) matched.push(`- ... and ${r.matchedFiles.length - 20} more`)
    return `### changes (${r.event})\n\n${r.reason}\n\n${table}\n${matched.length ? `\nMatched build paths:\n${matched.join('\n')}\n` : ''}`
  },
  text: r =>
    `build=${r.kind === 'build'} image-tag=${r.imageTag} source-commit=${r.sourceCommit}\n${r.reason}\n`
})
