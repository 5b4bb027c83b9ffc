import {readFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {UsageError} from '../core/errors.js'
import {resolveCiContext, type CiContext} from '../changes/ci-context.js'
import {detectChanges, type ChangesResult} from '../changes/detect.js'
import {parse as parseYaml} from 'yaml'
import {
  createFilter,
  evaluateFilters,
  formatFileList,
  LIST_FORMATS,
  parseNamedFilters,
  splitGlobs,
  type FilterResult,
  type ListFormat,
  type NamedFilter,
  type PathFilter
} from '../changes/filter.js'
import {topLevel} from '../changes/history.js'
import {parseTagFormat, type TagFormat} from '../changes/tag-format.js'
import {BRANCH_INPUT_REGEX} from '../delivery/options.js'
import {defineCommand} from './types.js'

export interface ChangesSettings {
  root: string
  remote: string
  filter: PathFilter
  tagFormat: TagFormat
  context: CiContext
  filters: NamedFilter[]
  listFiles: ListFormat
}

/** The build decision, plus one answer per named filter (`--filter`, `--filters-file`). */
export type ChangesCommandResult = ChangesResult & {filters: FilterResult[]; listFiles: ListFormat}

/** Outputs every run has; a filter may not take one of these names. */
const FIXED_OUTPUTS = [
  'build',
  'image-tag',
  'source-commit',
  'base',
  'head',
  'changed-files',
  'reason',
  'filters'
]

function readFiltersFile(
  path: string | undefined,
  root: string
): {path: string; data: unknown} | undefined {
  if (!path?.trim()) return undefined
  let text: string
  try {
    text = readFileSync(resolve(root, path.trim()), 'utf8')
  } catch (e) {
    throw new UsageError(
      `--filters-file ${path.trim()} cannot be read (${(e as Error).message}); give a YAML file in the checkout`
    )
  }
  try {
    return {path: path.trim(), data: parseYaml(text)}
  } catch (e) {
    throw new UsageError(
      `--filters-file ${path.trim()} is not valid YAML (${(e as Error).message.split('\n')[0]}); fix the file`
    )
  }
}

function listFormat(value: string | undefined): ListFormat {
  const v = (value?.trim() || 'none') as ListFormat
  if (!LIST_FORMATS.includes(v)) {
    throw new UsageError(`--list-files '${value}' is not known; use ${LIST_FORMATS.join(', ')}`)
  }
  return v
}

const SHA_OR_REV = /^[A-Za-z0-9_./^~@{}-]+$/

function revOption(value: string | undefined, name: string): string | undefined {
  const v = value?.trim()
  if (!v) return undefined
  if (!SHA_OR_REV.test(v) || v.startsWith('-')) {
    throw new UsageError(`--${name} '${v}' is not a commit; pass a commit sha`)
  }
  return v
}

export const changesCommand = defineCommand<ChangesSettings, ChangesCommandResult>({
  name: 'changes',
  description: 'Decide whether the image must be built, and which already-built tag to deploy',
  options: [
    {
      name: 'build-paths',
      type: 'list',
      description:
        "Globs (from the repository root) of the image's inputs, e.g. 'src/**', Dockerfile; one per line or comma-separated; '!glob' excludes",
      gitlab: {
        required: true,
        description:
          'Globs of the files that go into the image, e.g. [src/**, Dockerfile, package*.json].'
      }
    },
    {
      name: 'ignore-paths',
      type: 'list',
      description: 'Globs excluded from the build paths, e.g. **/*.md',
      gitlab: {description: 'Globs to leave out of build-paths, e.g. [**/*.md].'}
    },
    {
      name: 'base',
      type: 'string',
      description: 'Compare with this commit (e.g. the last deployed one) instead of the CI event',
      gitlab: {
        regex: String.raw`^\S*$`,
        description:
          "Commit to compare with; empty means what the pipeline knows (the previous push of this branch, the merge request's fork point, or the fork point from the default branch for a new branch)."
      }
    },
    {
      name: 'head',
      type: 'string',
      description: 'The commit to judge',
      default: 'the CI commit, else HEAD',
      gitlab: {
        regex: String.raw`^\S*$`,
        description: 'Commit to decide for; empty means $CI_COMMIT_SHA.'
      }
    },
    {
      name: 'tag-format',
      type: 'string',
      description: 'Image tag template: {sha}, {short} (7 characters), {branch}, {tag}',
      default: '{sha}',
      gitlab: {
        default: '{sha}',
        regex: '^[A-Za-z0-9_.{}+-]+$',
        description:
          'Image tag of a commit; placeholders {sha}, {short} (7 characters), {branch}, {tag}.'
      }
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
      default: 'from the CI context, else the remote HEAD',
      gitlab: {
        regex: BRANCH_INPUT_REGEX,
        description: 'Branch a new branch is compared with; empty means $CI_DEFAULT_BRANCH.'
      }
    },
    {
      name: 'remote',
      type: 'string',
      description: 'Remote to deepen a shallow clone from',
      default: 'origin',
      gitlab: {
        default: 'origin',
        regex: '^[A-Za-z0-9_.-]+$',
        description: 'Remote of the checkout to deepen a shallow clone from.'
      }
    },
    {
      name: 'filter',
      type: 'list',
      description:
        "Named filter name=glob,glob ('!glob' excludes); sets output <name> to 'true'/'false'; repeat for more",
      gitlab: {
        description:
          "Named filters name=glob,glob ('!glob' excludes), e.g. [docs=docs/**, api=api/**]; each sets GITOPS_<NAME> to true or false."
      }
    },
    {
      name: 'filters-file',
      type: 'string',
      description: 'YAML file of named filters (name: [globs]), as paths-filter writes them',
      gitlab: {
        description:
          'YAML file in the checkout with more named filters (name: [globs]), as paths-filter writes them.'
      }
    },
    {
      name: 'list-files',
      type: 'string',
      description:
        'Also output <name>_files, the matching files of each filter: json, csv or shell-escape',
      default: 'none',
      choices: LIST_FORMATS,
      gitlab: {
        default: 'none',
        description:
          'Also report GITOPS_<NAME>_FILES, the matching files of each filter, as json, csv or shell-escape (the dotenv report holds 5 KB).'
      }
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
    {name: 'reason', description: 'Why build is true or false'},
    // Each named filter also sets `<name>` ('true'/'false') and, with --list-files,
    // `<name>_files`: outputs named by the user, so not declared (paths-filter does the same).
    {
      name: 'filters',
      description:
        "JSON list of the named filters that matched; each filter also sets output <name> ('true'/'false') and, with --list-files, <name>_files"
    }
  ],
  gitlab: {
    description:
      'Decide whether the image must be built, and which already-built tag to deploy when only manifests or docs changed. Works on new branches, merge request pipelines and shallow clones. Outputs GITOPS_BUILD, GITOPS_IMAGE_TAG, GITOPS_SOURCE_COMMIT, ... as a dotenv report; later jobs extend `.<job-prefix>-if-build` to skip themselves when no build is needed.',
    // The decision runs before every other stage.
    stage: '.pre',
    jobInputs: {
      'compare-to': {
        default: 'refs/heads/$CI_DEFAULT_BRANCH',
        description:
          'Ref for `rules:changes:compare_to` in the hidden job `.<job-prefix>-build-rules` (the pipeline-creation alternative; see the README for when to prefer it).'
      }
    },
    jobs: `# Extend this in the build job: it waits for the decision and ends the job early (successfully) when
# no build is needed, so the deploy jobs that need the build still run and deploy GITOPS_IMAGE_TAG.
".$[[ inputs.job-prefix ]]-if-build":
  needs:
    - job: "$[[ inputs.job-prefix ]]-changes"
      artifacts: true
  before_script:
    - |
      if [ "$GITOPS_BUILD" != "true" ]; then
        echo "No build needed: $GITOPS_REASON"
        echo "Later jobs deploy the existing tag $GITOPS_IMAGE_TAG (built from $GITOPS_SOURCE_COMMIT)."
        exit 0
      fi
      echo "Build needed: $GITOPS_REASON (tag $GITOPS_IMAGE_TAG)"

# The pipeline-creation alternative: the job is left out of the pipeline unless build-paths changed
# compared with compare-to. No decision job and no resolved tag; see the README for when to use it.
".$[[ inputs.job-prefix ]]-build-rules":
  rules:
    - changes:
        paths: $[[ inputs.build-paths ]]
        compare_to: $[[ inputs.compare-to ]]
`
  },
  // The adapter hands the GitHub event in; a missing one makes the decision fail open (build).
  settings(input, env, _platform, github) {
    const buildGlobs = splitGlobs(input.list('build-paths'))
    const ignoreGlobs = splitGlobs(input.list('ignore-paths'))
    const filter = createFilter(buildGlobs, ignoreGlobs)
    const tagFormat = parseTagFormat(input.string('tag-format')?.trim() || '{sha}')
    // Actions and GitLab jobs start in the workspace, so the working directory is the checkout.
    const root = resolve(input.string('root') ?? '.')
    const remote = input.string('remote')?.trim() || 'origin'
    if (remote.startsWith('-'))
      throw new UsageError(`--remote '${remote}' is not a remote name; pass e.g. origin`)
    const context = resolveCiContext(env, github, {
      base: revOption(input.string('base'), 'base'),
      head: revOption(input.string('head'), 'head'),
      defaultBranch: input.string('default-branch')?.trim() || undefined
    })
    const filters = parseNamedFilters(
      input.list('filter'),
      readFiltersFile(input.string('filters-file'), root),
      new Set(FIXED_OUTPUTS)
    )
    return {
      root,
      remote,
      filter,
      tagFormat,
      context,
      filters,
      listFiles: listFormat(input.string('list-files'))
    }
  },
  async run(settings, platform) {
    const cwd = await topLevel(settings.root)
    const result = await platform.group('Detect changes', () =>
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
    return {
      ...result,
      filters: evaluateFilters(settings.filters, result.changes),
      listFiles: settings.listFiles
    }
  },
  outputs: r => ({
    build: String(r.kind === 'build'),
    'image-tag': r.imageTag,
    'source-commit': r.sourceCommit,
    base: r.base ?? '',
    head: r.head,
    'changed-files': r.changedFiles === undefined ? '' : String(r.changedFiles),
    reason: r.reason,
    ...filterOutputs(r)
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
    fetches: r.fetches,
    filters: Object.fromEntries(r.filters.map(f => [f.name, {matched: f.matched, files: f.files}]))
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
    const filters = r.filters.length
      ? `\n| filter | matched | files |\n|---|---|---|\n${r.filters.map(f => `| ${f.name} | ${f.matched} | ${f.files.length} |`).join('\n')}\n`
      : ''
    return `### changes (${r.event})\n\n${r.reason}\n\n${table}\n${filters}${matched.length ? `\nMatched build paths:\n${matched.join('\n')}\n` : ''}`
  },
  text: r =>
    `build=${r.kind === 'build'} image-tag=${r.imageTag} source-commit=${r.sourceCommit}\n${r.reason}\n` +
    r.filters
      .map(
        f =>
          `filter ${f.name}: ${f.matched}${f.files.length ? ` (${f.files.length} file${f.files.length === 1 ? '' : 's'})` : ''}\n`
      )
      .join('')
})

/**
 * One output per filter (`<name>`: 'true'/'false') and, with --list-files, its files
 * (`<name>_files`). Without a change list (nothing to compare with) every filter is 'true',
 * as the build decision fails open.
 */
function filterOutputs(r: ChangesCommandResult): Record<string, string> {
  if (r.filters.length === 0) return {}
  const out: Record<string, string> = {
    filters: JSON.stringify(r.filters.filter(f => f.matched).map(f => f.name))
  }
  for (const f of r.filters) {
    out[f.name] = String(f.matched)
    if (r.listFiles !== 'none') out[`${f.name}_files`] = formatFileList(f.files, r.listFiles)
  }
  return out
}
