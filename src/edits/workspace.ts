/**
 * Where edits may happen: every path is relative to one root and must stay
 * inside it, also after following symlinks, because the root is usually a
 * checkout of someone else's repository and the paths come from CI inputs.
 */
import {constants as fsConstants} from 'node:fs'
import {
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  unlink
} from 'node:fs/promises'
import {randomBytes} from 'node:crypto'
import {basename, dirname, isAbsolute, join, relative, sep} from 'node:path'
import picomatch from 'picomatch'
import {OperationError, UsageError} from '../core/errors.js'
import {KUSTOMIZATION_FILE_NAMES} from '../core/kustomize/kustomization-file.js'

export {KUSTOMIZATION_FILE_NAMES}

function toPosix(p: string): string {
  return p.split(sep).join('/')
}

/** The root as a real directory path. */
export async function openRoot(root: string): Promise<string> {
  let real: string
  try {
    real = await realpath(root)
  } catch {
    throw new UsageError(
      `root directory ${JSON.stringify(root)} does not exist; pass an existing directory with -C <dir>`
    )
  }
  if (!(await stat(real)).isDirectory()) {
    throw new UsageError(
      `root ${JSON.stringify(root)} is not a directory; pass a directory with -C <dir>`
    )
  }
  return real
}

/**
 * Normalises a root-relative path or pattern as given by the user and
 * refuses anything that could name a place outside the root.
 */
export function checkRelative(input: string, what: string): string {
  const p = input.replace(/\\/g, '/')
  if (p.trim() === '') throw new UsageError(`${what} is empty; pass a path relative to the root`)
  if (isAbsolute(input) || p.startsWith('/') || /^[A-Za-z]:/.test(p)) {
    throw new UsageError(
      `${what} ${JSON.stringify(input)} is absolute; pass a path relative to the root (-C)`
    )
  }
  const parts = p.split('/').filter(s => s !== '' && s !== '.')
  if (parts.some(s => s === '..')) {
    throw new UsageError(
      `${what} ${JSON.stringify(input)} uses '..' and could leave the root; pass a path inside the root (-C)`
    )
  }
  if (parts.some(isGitDirName)) throw insideGit(what, input)
  return parts.length ? parts.join('/') : '.'
}

/**
 * `.git` holds git's own files: a config or hook written there changes what
 * git runs (core.fsmonitor, core.sshCommand, hooksPath). No edit belongs
 * there, whatever case a case-insensitive file system would accept.
 */
function isGitDirName(segment: string): boolean {
  return segment.toLowerCase() === '.git'
}

function insideGit(what: string, input: string): UsageError {
  return new UsageError(
    `${what} ${JSON.stringify(input)} is inside .git, git's own files (config, hooks); pass a path of the config repo's content`
  )
}

/** A root-relative path (after following links) that lands inside `.git`. */
function landsInGit(rel: string): boolean {
  return rel.split(sep).some(isGitDirName)
}

/** Real path of `rel` under `root`, refused when a symlink leads outside. */
export async function resolveInside(root: string, rel: string, what: string): Promise<string> {
  const abs = rel === '.' ? root : join(root, rel)
  let real: string
  try {
    real = await realpath(abs)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new UsageError(
        `${what} ${JSON.stringify(rel)} does not exist under the root; check the path`
      )
    throw new OperationError(`cannot read ${rel}: ${(e as Error).message}`)
  }
  const r = relative(root, real)
  if (r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r)) {
    throw new UsageError(
      `${what} ${JSON.stringify(rel)} is a symlink that leads outside the root; edit the target inside the root instead`
    )
  }
  if (landsInGit(r)) throw insideGit(what, rel)
  return real
}

interface Walker {
  root: string
  skipDot: boolean
}

async function listDirs(
  w: Walker,
  relDir: string,
  depth: number,
  maxDepth: number,
  out: string[]
): Promise<void> {
  if (depth >= maxDepth) return
  let entries
  try {
    entries = await readdir(relDir === '.' ? w.root : join(w.root, relDir), {withFileTypes: true})
  } catch {
    return
  }
  const next: Promise<void>[] = []
  for (const e of entries) {
    if (e.name === '.git' || e.name === 'node_modules' || (w.skipDot && e.name.startsWith('.')))
      continue
    const rel = relDir === '.' ? e.name : `${relDir}/${e.name}`
    if (e.isDirectory()) {
      out.push(rel)
      next.push(listDirs(w, rel, depth + 1, maxDepth, out))
    } else if (e.isSymbolicLink()) {
      // A linked directory can match, but is not descended into (no cycles).
      const s = await stat(join(w.root, rel)).catch(() => undefined)
      if (s?.isDirectory()) out.push(rel)
    }
  }
  await Promise.all(next)
}

/**
 * Expands `--path` values (directories or globs such as
 * `apps/* /overlays/production`) into root-relative directories, sorted and
 * deduplicated. A glob that matches nothing, or a directory that does not
 * exist, is an error.
 */
export async function resolveDirs(root: string, patterns: readonly string[]): Promise<string[]> {
  const found = new Set<string>()
  for (const input of patterns) {
    const pattern = checkRelative(input, '--path')
    const scan = picomatch.scan(pattern)
    if (!scan.isGlob) {
      const real = await resolveInside(root, pattern, '--path')
      if (!(await stat(real)).isDirectory()) {
        throw new UsageError(
          `--path ${JSON.stringify(input)} is a file; pass the directory that holds the kustomization`
        )
      }
      found.add(pattern)
      continue
    }
    const base = scan.base ? checkRelative(scan.base, '--path') : '.'
    const deep = pattern.includes('**')
    const segments = pattern.split('/').length - (base === '.' ? 0 : base.split('/').length)
    const dirs: string[] = []
    const baseAbs = base === '.' ? root : join(root, base)
    const baseStat = await stat(baseAbs).catch(() => undefined)
    if (baseStat?.isDirectory()) {
      await resolveInside(root, base, '--path')
      await listDirs(
        {root, skipDot: !/(^|\/)\./.test(pattern)},
        base,
        0,
        deep ? 64 : segments,
        dirs
      )
      if (deep && base !== '.') dirs.push(base)
    }
    const isMatch = picomatch(pattern, {dot: /(^|\/)\./.test(pattern)})
    const matched = dirs.filter(d => isMatch(d))
    if (matched.length === 0) {
      throw new UsageError(
        `--path ${JSON.stringify(input)} matches no directory in the config repo; check the pattern (globs are relative to the repository root: -C locally, the root of --repo remotely)`
      )
    }
    for (const d of matched) {
      await resolveInside(root, d, '--path')
      found.add(d)
    }
  }
  return [...found].sort()
}

export interface KustomizationLocation {
  /** Root-relative posix path of the file. */
  file: string
  real: string
}

/** Finds the one kustomization file in `dir`, with kustomize's own errors. */
export async function findKustomization(root: string, dir: string): Promise<KustomizationLocation> {
  const dirReal = await resolveInside(root, dir, '--path')
  const names = new Set(await readdir(dirReal))
  const present = KUSTOMIZATION_FILE_NAMES.filter(n => names.has(n))
  const where = dir === '.' ? 'the root' : dir
  if (present.length === 0) {
    throw new UsageError(
      `${where}: Missing kustomization file '${KUSTOMIZATION_FILE_NAMES[0]}'. Create one there or fix --path`
    )
  }
  if (present.length > 1) {
    throw new UsageError(
      `${where}: Found multiple kustomization file: [${present.join(' ')}]; keep only one of them`
    )
  }
  const file = dir === '.' ? present[0] : `${dir}/${present[0]}`
  const real = await resolveInside(root, file, 'kustomization')
  if ((await lstat(real)).isDirectory()) {
    throw new UsageError(`${file} should be a file; remove the directory or rename it`)
  }
  return {file: toPosix(file), real}
}

// ------------------------------------------------------ reading and writing ---

/** A file's text, refused when it is not valid UTF-8 (decoding then encoding must give the same bytes). */
export async function readUtf8(real: string, file: string): Promise<string> {
  let buf: Buffer
  try {
    buf = await readFile(real)
  } catch (e) {
    throw new OperationError(`cannot read ${file}: ${(e as Error).message}`)
  }
  const text = buf.toString('utf8')
  if (!Buffer.from(text, 'utf8').equals(buf)) {
    throw new UsageError(`${file} is not valid UTF-8; convert it to UTF-8 and run again`)
  }
  return text
}

/** One planned file: its root-relative path and the bytes it gets. */
export interface WorkspaceWrite {
  file: string
  after: string | Buffer
}

interface WriteTarget {
  /** Real path of the file, or where it will be created. */
  real: string
  exists: boolean
}

function outside(file: string): UsageError {
  return new UsageError(
    `refusing to write ${file}: it resolves outside the repository (a symlink); replace the symlink with a real directory or file inside the config repo`
  )
}

/**
 * Where `rel` lands: every existing component is resolved through symlinks
 * and must stay inside the root, so a link in the config repo cannot make
 * us write elsewhere; links that stay inside are followed (the link stays a
 * link, its target gets the edit).
 */
async function writeTarget(realRoot: string, rel: string): Promise<WriteTarget> {
  const parts = rel.split('/')
  let real = realRoot
  for (let i = 0; i < parts.length; i++) {
    const next = join(real, parts[i])
    let st
    try {
      st = await lstat(next)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new OperationError(`cannot read ${rel}: ${(e as Error).message}`)
      }
      return {real: join(real, ...parts.slice(i)), exists: false}
    }
    real = st.isSymbolicLink() ? await realpath(next).catch(() => next) : next
    const r = relative(realRoot, real)
    if (r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r)) throw outside(rel)
    if (landsInGit(r)) throw insideGit('file', rel)
    const isDir = (await stat(real).catch(() => undefined))?.isDirectory() ?? false
    if (i < parts.length - 1 && !isDir) {
      throw new UsageError(
        `refusing to write ${rel}: ${parts.slice(0, i + 1).join('/')} is not a directory; choose another path`
      )
    }
    if (i === parts.length - 1 && isDir) {
      throw new UsageError(`refusing to write ${rel}: it is a directory; name a file`)
    }
  }
  return {real, exists: true}
}

/** A write failure named by its cause, with the fix for that cause. */
export function writeFailure(verb: string, file: string, e: unknown): OperationError {
  const err = e as NodeJS.ErrnoException
  const fix =
    err.code === 'ENOSPC' || err.code === 'EDQUOT'
      ? 'the disk (or quota) is full; free space on the file system that holds the checkout and run again'
      : err.code === 'EROFS'
        ? 'the file system is read-only; run where the checkout is writable'
        : err.code === 'EACCES' || err.code === 'EPERM'
          ? 'check the file and directory permissions'
          : err.code === 'EEXIST'
            ? 'something else created it meanwhile; run again'
            : 'check the file permissions and free disk space'
  return new OperationError(`cannot ${verb} ${file}: ${err.message ?? String(e)}; ${fix}`)
}

/**
 * A private sibling of `real`: a random name created exclusively and never
 * through a symlink (O_EXCL fails on any existing name, link or not), so a
 * planted or committed `.kustomization.yaml.*.tmp` cannot redirect the write.
 * The mode is set on the open handle, never through a path.
 */
async function writeTemp(real: string, bytes: string | Buffer, mode: number): Promise<string> {
  const {O_CREAT, O_EXCL, O_WRONLY, O_NOFOLLOW} = fsConstants
  for (let attempt = 0; ; attempt++) {
    const tmp = join(
      dirname(real),
      `.${basename(real)}.gitops-deploy-${randomBytes(8).toString('hex')}.tmp`
    )
    let handle
    try {
      handle = await open(tmp, O_CREAT | O_EXCL | O_WRONLY | (O_NOFOLLOW ?? 0), 0o600)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 5) continue
      throw e
    }
    try {
      await handle.writeFile(bytes)
      await handle.chmod(mode)
      await handle.sync().catch(() => undefined)
    } catch (e) {
      await handle.close().catch(() => undefined)
      await unlink(tmp).catch(() => undefined)
      throw e
    } finally {
      await handle.close().catch(() => undefined)
    }
    return tmp
  }
}

interface Staged {
  change: WorkspaceWrite
  target: WriteTarget
  tmp: string
  /** The bytes the file had, to put back when a later rename fails. */
  before?: Buffer
  /** The first directory mkdir created for a new file, removed again on failure. */
  createdDir?: string
}

/**
 * The one writer of every edit (set-image, promote, argo-app, …), all or
 * nothing: every target is resolved and checked, then every new content is
 * written to a private temporary sibling, and only when all of them exist
 * are they renamed into place (a rename within a directory does not fail
 * for lack of space). A failure before that removes the temporaries and
 * leaves every file as it was; a failed rename puts back the files already
 * replaced. An existing file keeps its mode; a new one gets 0644 and its
 * directories. Only regular files are replaced: a FIFO or device under a
 * planned name is refused instead of hanging the run.
 */
export async function writeFiles(root: string, files: readonly WorkspaceWrite[]): Promise<void> {
  const realRoot = await openRoot(root)
  const targets: {target: WriteTarget; change: WorkspaceWrite}[] = []
  for (const change of files) {
    const rel = checkRelative(change.file, 'file')
    const target = await writeTarget(realRoot, rel)
    if (target.exists) {
      const st = await lstat(target.real)
      if (!st.isFile()) {
        throw new UsageError(
          `refusing to write ${change.file}: it is not a regular file (a FIFO, socket or device); replace it with a regular file`
        )
      }
    }
    targets.push({target, change})
  }
  const staged: Staged[] = []
  const discard = async () => {
    for (const s of staged) {
      await unlink(s.tmp).catch(() => undefined)
      if (s.createdDir)
        await rm(s.createdDir, {recursive: true, force: true}).catch(() => undefined)
    }
  }
  for (const {target, change} of targets) {
    try {
      let createdDir: string | undefined
      let mode = 0o644
      let before: Buffer | undefined
      if (target.exists) {
        mode = (await stat(target.real)).mode & 0o7777
        before = await readFile(target.real)
      } else {
        createdDir = await mkdir(dirname(target.real), {recursive: true})
      }
      // Push before the temp exists so a failure below still removes the directories made.
      const entry: Staged = {change, target, tmp: '', before, createdDir}
      staged.push(entry)
      entry.tmp = await writeTemp(target.real, change.after, mode)
    } catch (e) {
      await discard()
      throw writeFailure(target.exists ? 'write' : 'create', change.file, e)
    }
  }
  const done: Staged[] = []
  for (const s of staged) {
    try {
      if (s.target.exists) await rename(s.tmp, s.target.real)
      else {
        // link() fails on an existing name: a new file never replaces one that appeared meanwhile.
        await link(s.tmp, s.target.real)
        await unlink(s.tmp)
      }
      done.push(s)
    } catch (e) {
      const unrestored = await restore(done)
      await discard()
      const err = writeFailure(s.target.exists ? 'write' : 'create', s.change.file, e)
      if (!unrestored.length) throw err
      throw new OperationError(
        `${err.message} (could not restore ${unrestored.join(', ')}: check them with git status)`
      )
    }
  }
}

/** Puts back files already replaced; returns the ones that could not be. */
async function restore(done: Staged[]): Promise<string[]> {
  const failed: string[] = []
  for (const s of done.reverse()) {
    try {
      if (s.before === undefined) await unlink(s.target.real)
      else {
        const mode = (await stat(s.target.real)).mode & 0o7777
        const tmp = await writeTemp(s.target.real, s.before, mode)
        await rename(tmp, s.target.real)
      }
    } catch {
      failed.push(s.change.file)
    }
  }
  return failed
}
