/**
 * The list `kustomize edit set image` leaves behind, mirrored from
 * RunSetImage in kustomize/commands/edit/set/setimage.go. Pure: entries in,
 * entries out. The writer decides how to put them into the file.
 */
import {PRESERVE, parseImageArg, type ImageEntry} from './image-arg.js'

export type MergeArgsResult =
  {kind: 'ok'; args: Map<string, ImageEntry>} | {kind: 'no-args'} | {kind: 'invalid'; arg: string}

/** Parses every argument first, so one bad argument aborts before any file is read. */
export function parseImageArgs(args: readonly string[]): MergeArgsResult {
  if (args.length === 0) return {kind: 'no-args'}
  const map = new Map<string, ImageEntry>()
  for (const arg of args) {
    const parsed = parseImageArg(arg)
    if (parsed.kind === 'invalid') return {kind: 'invalid', arg}
    // A later argument for the same name replaces the earlier one entirely.
    map.set(parsed.entry.name ?? '', parsed.entry)
  }
  return {kind: 'ok', args: map}
}

// Like kustomize's replaceNewName/replaceNewTag/replaceDigest, which build a
// fresh Image from four fields: any tagSuffix is lost on the way.
function withField(
  entry: ImageEntry,
  field: 'newName' | 'newTag' | 'digest',
  value: string | undefined
): ImageEntry {
  const out: ImageEntry = {...entry}
  delete out.tagSuffix
  if (value) out[field] = value
  else delete out[field]
  return out
}

/** Compares names the way Go compares strings: by UTF-8 bytes. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/**
 * Merges parsed arguments into the existing entries (`images:` then
 * `imageTags:`, in file order). A matched entry is replaced by the argument,
 * not merged with it; `*` copies one field from the FIRST existing entry of
 * that name; later duplicates are dropped; the result is sorted by name bytes.
 */
export function mergeImages(
  existing: readonly ImageEntry[],
  args: ReadonlyMap<string, ImageEntry>
): ImageEntry[] {
  const map = new Map<string, ImageEntry>(args)
  for (const im of existing) {
    const name = im.name ?? ''
    const argIm = map.get(name)
    if (argIm) {
      let next = argIm
      if (next.newName === PRESERVE) next = withField(next, 'newName', im.newName)
      if (next.newTag === PRESERVE) next = withField(next, 'newTag', im.newTag)
      if (next.digest === PRESERVE) next = withField(next, 'digest', im.digest)
      map.set(name, next)
      continue
    }
    map.set(name, im)
  }
  const images: ImageEntry[] = []
  for (const v of map.values()) {
    let next = v
    if (next.newName === PRESERVE) next = withField(next, 'newName', '')
    if (next.newTag === PRESERVE) next = withField(next, 'newTag', '')
    if (next.digest === PRESERVE) next = withField(next, 'digest', '')
    images.push(next)
  }
  return images.sort((a, b) => compareNames(a.name ?? '', b.name ?? ''))
}
