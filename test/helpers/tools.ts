import {spawnSync} from 'node:child_process'

/**
 * Tools some tests need beyond Node and git (the README's promise for a fresh machine).
 * `.ci/run` installs them so CI runs everything; elsewhere those tests skip.
 */
const TOOLS = {
  rsync: {
    probe: ['--version'],
    install: 'apt-get install rsync (gitlab-ci-local copies the project with it before any job)'
  },
  kubectl: {
    probe: ['version', '--client'],
    install: 'install kubectl, see https://kubernetes.io/docs/tasks/tools/'
  }
} as const

export type Tool = keyof typeof TOOLS

/** The one line printed when a tool is missing; scripts/check-fresh-machine.mjs looks for it. */
export function skipLine(tool: Tool): string {
  return `skipped: ${tool} not found — ${TOOLS[tool].install}`
}

const reported = new Set<Tool>()

/**
 * undefined when `tool` runs from PATH; otherwise the skip reason, printed once per test file
 * (one line), for `describe.skipIf(missingTool('rsync'))`.
 */
export function missingTool(tool: Tool): string | undefined {
  if (hasTool(tool)) return undefined
  if (!reported.has(tool)) {
    reported.add(tool)
    console.warn(skipLine(tool))
  }
  return skipLine(tool)
}

const present = new Map<Tool, boolean>()

/** Whether `tool` runs from PATH, asked once per process and without printing anything. */
function hasTool(tool: Tool): boolean {
  if (!present.has(tool)) {
    present.set(tool, spawnSync(tool, TOOLS[tool].probe, {stdio: 'ignore'}).status === 0)
  }
  return present.get(tool)!
}

/**
 * stderr without the render check's note that it was skipped: without kubectl (a fresh machine)
 * every edit logs it once, by design. With kubectl nothing is removed, so any other line shows.
 */
export function withoutRenderSkipNote(stderr: string): string {
  return hasTool('kubectl')
    ? stderr
    : stderr.replace(/^render check skipped: kubectl was not found on PATH .*\n?/gm, '')
}
