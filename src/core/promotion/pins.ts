/**
 * The image pins of one kustomization `images:` list, as the edit engine
 * reads them (absent and empty mean the same to kustomize).
 */
export interface PinEntry {
  name?: string
  newName?: string
  newTag?: string
  digest?: string
  tagSuffix?: string
}

/** What the target renders for one image name. */
export interface Pin {
  newName?: string
  newTag?: string
  digest?: string
  tagSuffix?: string
}

/**
 * `keep` (default): the target keeps its own `newName` when it has one,
 * because a differing newName is nearly always an environment's registry
 * mirror, not part of the version; tag and digest always come from the
 * source. `copy`: newName is copied exactly like tag and digest.
 */
export type NewNamePolicy = 'keep' | 'copy'

export type ImageOutcome =
  | {
      kind: 'promoted'
      name: string
      before: Pin
      after: Pin
      /** The target had no entry (--add-missing added it). */
      added?: boolean
      /** The new tag is an older version than the target ran (both tags read as versions). */
      downgrade?: boolean
    }
  | {kind: 'unchanged'; name: string; pin: Pin}
  /** The source pins it, the target does not list it: reported, never invented. */
  | {kind: 'not-in-target'; name: string; pin: Pin}
  /** The source entry sets nothing (no newName, newTag or digest). */
  | {kind: 'no-pin'; name: string}
  | {kind: 'skipped'; name: string; reason: string}

export interface PinPlan {
  /** `kustomize edit set image` arguments for the target, in source order. */
  args: string[]
  images: ImageOutcome[]
}

function clean(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v
}

export function pinOf(e: PinEntry): Pin {
  const pin: Pin = {}
  const newName = clean(e.newName)
  const newTag = clean(e.newTag)
  const digest = clean(e.digest)
  const tagSuffix = clean(e.tagSuffix)
  if (newName) pin.newName = newName
  if (newTag) pin.newTag = newTag
  if (digest) pin.digest = digest
  if (tagSuffix) pin.tagSuffix = tagSuffix
  return pin
}

export function samePin(a: Pin, b: Pin): boolean {
  return (
    a.newName === b.newName &&
    a.newTag === b.newTag &&
    a.digest === b.digest &&
    a.tagSuffix === b.tagSuffix
  )
}

/** `name -> newName:tag@digest`, the way people read a pin. */
export function formatPin(pin: Pin): string {
  let s = pin.newName ?? ''
  // A bare tag reads best on its own: `1.4.2`, not `:1.4.2`.
  if (pin.newTag) s += s ? `:${pin.newTag}` : pin.newTag
  if (pin.tagSuffix) s += `(+${pin.tagSuffix})`
  if (pin.digest) s += `@${pin.digest}`
  return s === '' ? '(unpinned)' : s
}

/**
 * The `set image` argument that makes the target's entry exactly `pin`.
 * The `name:tag` form is preferred (it is what people write); the
 * `name=:tag` form is used when the name itself holds a `:` or `@` that the
 * kustomize grammar would take for a separator.
 */
export function setImageArg(name: string, pin: Pin): string {
  const version = `${pin.newTag ? `:${pin.newTag}` : ''}${pin.digest ? `@${pin.digest}` : ''}`
  if (pin.newName) return `${name}=${pin.newName}${version}`
  const slash = name.indexOf('/')
  const area = slash > 0 ? name.slice(slash) : name
  if (!/[:@]/.test(area) && !name.startsWith('/')) return `${name}${version}`
  return `${name}=${version}`
}

/**
 * Plans one app: for every image the source pins, the target gets exactly
 * the source's version. Images only the target lists are not touched;
 * images only the source lists are reported, because adding an entry to
 * an environment is a decision about that environment, not a promotion.
 */
/**
 * Compares two tags as versions (`v1.4.2`, `1.10.0-rc.1`); undefined when
 * either is not one (a SHA, `latest`), so only real version orders count.
 */
export function compareVersions(a: string | undefined, b: string | undefined): number | undefined {
  const parse = (t?: string) => {
    const m = t ? /^v?(\d+)\.(\d+)(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?$/.exec(t) : null
    return m ? {n: [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)], pre: m[4]} : undefined
  }
  const x = parse(a)
  const y = parse(b)
  if (!x || !y) return undefined
  for (let i = 0; i < 3; i++) if (x.n[i] !== y.n[i]) return x.n[i] < y.n[i] ? -1 : 1
  // A pre-release sorts before its release; two pre-releases compare as text.
  if (x.pre === y.pre) return 0
  if (x.pre === undefined) return 1
  if (y.pre === undefined) return -1
  return x.pre < y.pre ? -1 : 1
}

export function planPins(
  source: readonly PinEntry[],
  target: readonly PinEntry[],
  policy: NewNamePolicy = 'keep',
  addMissing = false
): PinPlan {
  const images: ImageOutcome[] = []
  const args: string[] = []
  const targetByName = new Map<string, PinEntry>()
  // kustomize's edit keeps the first of duplicate entries, so compare against that one.
  for (const t of target) if (t.name && !targetByName.has(t.name)) targetByName.set(t.name, t)
  const seen = new Set<string>()
  const duplicates = new Set(
    source.map(s => s.name ?? '').filter((n, i, all) => n !== '' && all.indexOf(n) !== i)
  )
  for (const s of source) {
    const name = s.name ?? ''
    if (name === '') {
      images.push({kind: 'skipped', name: '(no name)', reason: "the source entry has no 'name'"})
      continue
    }
    if (seen.has(name)) continue
    seen.add(name)
    if (duplicates.has(name)) {
      images.push({
        kind: 'skipped',
        name,
        reason:
          'the source lists this image twice; kustomize applies both entries, so the pin is ambiguous — keep one entry'
      })
      continue
    }
    if (name.includes('=')) {
      images.push({
        kind: 'skipped',
        name,
        reason: "the name holds '=', which set image cannot address"
      })
      continue
    }
    const from = pinOf(s)
    if (from.tagSuffix) {
      images.push({
        kind: 'skipped',
        name,
        reason:
          'the source uses tagSuffix, which kustomize edit set image cannot write; copy it by hand'
      })
      continue
    }
    if (!from.newName && !from.newTag && !from.digest) {
      images.push({kind: 'no-pin', name})
      continue
    }
    const t = targetByName.get(name)
    if (!t) {
      if (!addMissing) {
        images.push({kind: 'not-in-target', name, pin: from})
        continue
      }
      // --add-missing: the entry kustomize's own `edit set image` would add.
      const after: Pin = {...from}
      delete after.tagSuffix
      images.push({kind: 'promoted', name, before: {}, after, added: true})
      args.push(setImageArg(name, after))
      continue
    }
    const before = pinOf(t)
    const after: Pin = {}
    const newName = policy === 'copy' ? from.newName : (before.newName ?? from.newName)
    if (newName) after.newName = newName
    if (from.newTag) after.newTag = from.newTag
    if (from.digest) after.digest = from.digest
    if (samePin(before, after)) {
      images.push({kind: 'unchanged', name, pin: before})
      continue
    }
    const order = compareVersions(before.newTag, after.newTag)
    images.push({kind: 'promoted', name, before, after, ...(order === 1 ? {downgrade: true} : {})})
    args.push(setImageArg(name, after))
  }
  return {args, images}
}
