/**
 * `npm run bench`: runs every bench/*.bench.ts in name order. Each part
 * measures our approach and the naive one in the same run and prints ratios,
 * so the numbers stay comparable on whatever machine runs them.
 * `npm run bench -- <filter>` runs only the parts whose file name contains it.
 */
import {readdirSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

const filter = process.argv[2]
const dir = import.meta.dirname
const parts = readdirSync(dir)
  .filter(f => f.endsWith('.bench.ts'))
  .filter(f => !filter || f.includes(filter))
  .sort()
console.log(`gitops-deploy benchmarks — ${new Date().toISOString()} — node ${process.version}`)
for (const part of parts) {
  console.log(`\n=== ${part} ===`)
  const mod = (await import(pathToFileURL(join(dir, part)).href)) as {run?: () => Promise<void>}
  if (typeof mod.run !== 'function') throw new Error(`${part} must export run()`)
  await mod.run()
}
