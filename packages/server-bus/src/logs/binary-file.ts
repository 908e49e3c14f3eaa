// A file the binary log writers (BLF, MCAP) write in large blocks, in order, and patch in
// place at the end (BLF's header holds the statistics). Writes go through the thread pool;
// the caller awaits the ones it needs to (backpressure), close() waits for all of them.

import { close, write } from 'node:fs'
import { CanError } from '../errors.ts'
import { openLogFile } from './text-sink.ts'

/** A write the operating system refused (a full disk, ...): its message names the file. */
export class FileWriteError extends CanError {
  override readonly name = 'FileWriteError'
}

/** What a binary writer reports: a refused write as it is, anything else naming file and format. */
export function writerError(file: string, format: string, error: unknown): Error {
  if (error instanceof FileWriteError) return error
  return new Error(`${file}: writing the ${format} file failed: ${(error as Error).message}`, {
    cause: error,
  })
}

export class BinaryFile {
  readonly name: string
  readonly #fd: number
  /** the offset the next appended block goes to */
  #position = 0
  /** blocks handed over and not yet written, in bytes */
  #pendingBytes = 0
  #tail: Promise<void> = Promise.resolve()
  #error: Error | undefined
  #closing: Promise<void> | undefined

  /** Opens (truncates) `path` at once, so a bad path fails here. */
  constructor(path: string) {
    this.name = path
    this.#fd = openLogFile(path, 'w')
  }

  /** bytes appended so far (written or queued) */
  get position(): number {
    return this.#position
  }

  /** bytes queued and not yet with the operating system */
  get pendingBytes(): number {
    return this.#pendingBytes
  }

  /** Appends `block` (kept until written: do not reuse it); resolves once it is written. */
  append(block: Uint8Array): Promise<void> {
    const at = this.#position
    this.#position += block.length
    return this.writeAt(block, at)
  }

  /** Writes `block` at `offset` after everything queued before it. */
  writeAt(block: Uint8Array, offset: number): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error)
    if (this.#closing !== undefined)
      return Promise.reject(new Error(`${this.name}: written after close()`))
    this.#pendingBytes += block.length
    const done = this.#tail.then(() => this.#writeFully(block, offset))
    // the chain goes on after a failure so close() still closes the file
    this.#tail = done.catch((error: unknown) => {
      this.#error ??= new FileWriteError(
        `${this.name}: write failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      )
    })
    return this.#tail.then(() => {
      if (this.#error !== undefined) throw this.#error
    })
  }

  /** Waits for every queued write, closes the file; rejects with the first write error. */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    await this.#tail
    await new Promise<void>((resolve, reject) => {
      close(this.#fd, (error) => (error ? reject(error) : resolve()))
    })
    if (this.#error !== undefined) throw this.#error
  }

  async #writeFully(block: Uint8Array, offset: number): Promise<void> {
    let done = 0
    while (done < block.length) {
      done += await new Promise<number>((resolve, reject) => {
        write(this.#fd, block, done, block.length - done, offset + done, (error, written) =>
          error ? reject(error) : resolve(written),
        )
      })
    }
    this.#pendingBytes -= block.length
  }
}
