// The spool's state file (FORMAT.md §3): the ack point and the next sequence number, the
// two facts the segments cannot tell once they are deleted. Replaced atomically.
import { type FileHandle, open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { MAX_SEQUENCE } from '@canbridge/protocol'
import { fsyncDirectory } from './durable-fs.ts'
import { codeOf, SpoolCorruptError, SpoolIoError } from './errors.ts'

export const STATE_FILE = 'state.json'
/** written then renamed over STATE_FILE; a leftover one is an interrupted write */
export const STATE_TEMP_FILE = 'state.json.tmp'
/** marks the directory as a spool: a state.json without it belongs to someone else */
export const STATE_FORMAT = 'canbridge-spool'
export const STATE_VERSION = 1

export interface SpoolStateValues {
  /** every frame below this was acknowledged by the server */
  ackSeq: number
  /** where numbering continues: after the newest frame ever appended or acknowledged */
  nextSeq: number
}

export type StateReadResult =
  | { kind: 'missing' }
  | { kind: 'ok'; state: SpoolStateValues }
  /** unreadable as a state (bit rot, a torn write on a file system without atomic rename) */
  | { kind: 'corrupt'; problem: string }

/**
 * Reads the state file. Throws SpoolCorruptError only for a file that is intact but not
 * ours (another format, or a newer version): repairing it could destroy data.
 */
export async function readSpoolState(dir: string): Promise<StateReadResult> {
  const path = join(dir, STATE_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return { kind: 'missing' }
    throw new SpoolIoError(`cannot read spool state ${path}`, { path, cause: error })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error
    return { kind: 'corrupt', problem: `${STATE_FILE} is not valid JSON (${error.message})` }
  }
  if (typeof value !== 'object' || value === null || !('format' in value)) {
    throw new SpoolCorruptError(`${path} is not a canbridge spool state (no "format" field)`, {
      path,
    })
  }
  const record = value as Record<string, unknown>
  if (record['format'] !== STATE_FORMAT) {
    throw new SpoolCorruptError(
      `${path} has format ${JSON.stringify(record['format'])}, not "${STATE_FORMAT}"`,
      { path },
    )
  }
  if (record['version'] !== STATE_VERSION) {
    throw new SpoolCorruptError(
      `${path} is spool format version ${JSON.stringify(record['version'])}; this edge reads version ${STATE_VERSION}`,
      { path },
    )
  }
  const { ackSeq, nextSeq } = record
  if (!isSequence(ackSeq) || !isSequence(nextSeq)) {
    return {
      kind: 'corrupt',
      problem: `${STATE_FILE} has ackSeq ${JSON.stringify(ackSeq)}, nextSeq ${JSON.stringify(nextSeq)}: not sequence numbers`,
    }
  }
  return { kind: 'ok', state: { ackSeq, nextSeq } }
}

/**
 * Replaces the state file so that a crash at any point leaves either the old or the new
 * state: write a temp file, fsync it, rename it over, fsync the directory. On a full file
 * system (the temp file gets no block) it rewrites state.json in place instead, which needs
 * no new block: freeing a full spool must never wait for free space.
 */
export async function writeSpoolState(dir: string, state: SpoolStateValues): Promise<void> {
  const temp = join(dir, STATE_TEMP_FILE)
  const path = join(dir, STATE_FILE)
  const text = stateText(state)
  try {
    const handle = await open(temp, 'w')
    try {
      await handle.writeFile(text, 'utf8')
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, path)
  } catch (error) {
    const failure = new SpoolIoError(`cannot write spool state ${path}`, { path, cause: error })
    if (!failure.noSpace || !(await overwriteInPlace(path, text))) throw failure
    // the temp file's leftover (often 0 bytes) goes; the state is in state.json
    await rm(temp, { force: true }).catch((cause: unknown) => {
      throw new SpoolIoError(`cannot remove ${temp}`, { path: temp, cause })
    })
  }
  await fsyncDirectory(dir)
}

/**
 * Writes `text` over the existing state.json from byte 0 (one write of under 100 bytes, in
 * the block the file already has), padded with spaces to the old length so no stale byte
 * remains after the JSON. False when there is no state.json to overwrite.
 */
async function overwriteInPlace(path: string, text: string): Promise<boolean> {
  let handle: FileHandle
  try {
    handle = await open(path, 'r+')
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return false
    throw new SpoolIoError(`cannot open spool state ${path}`, { path, cause: error })
  }
  try {
    const { size } = await handle.stat()
    const padded = text.length < size ? `${text.slice(0, -1).padEnd(size - 1)}\n` : text
    await handle.write(padded, 0, 'utf8')
    await handle.sync()
  } catch (error) {
    throw new SpoolIoError(`cannot rewrite spool state ${path} in place`, { path, cause: error })
  } finally {
    await handle.close()
  }
  return true
}

function stateText(state: SpoolStateValues): string {
  return `${JSON.stringify({
    format: STATE_FORMAT,
    version: STATE_VERSION,
    ackSeq: state.ackSeq,
    nextSeq: state.nextSeq,
  })}\n`
}

function isSequence(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= MAX_SEQUENCE
}
