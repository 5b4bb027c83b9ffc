import {execFileSync} from 'node:child_process'

/**
 * The Node binaries the bundles must run on: the Action's runtime (Node 24,
 * from the pinned `node` devDependency, which also runs vitest) and the
 * machine's system Node (20 here), which CLI users may still have.
 */
export function nodeRuntimes(): {label: string; bin: string}[] {
  const found = new Map<string, string>()
  for (const bin of [process.execPath, '/usr/bin/node', '/usr/local/bin/node']) {
    try {
      const version = execFileSync(bin, ['--version'], {encoding: 'utf8'}).trim()
      const major = version.replace(/^v/, '').split('.')[0]
      if (!found.has(major)) found.set(major, bin)
    } catch {
      // not installed at this path
    }
  }
  return [...found].map(([major, bin]) => ({label: `node ${major}`, bin}))
}
