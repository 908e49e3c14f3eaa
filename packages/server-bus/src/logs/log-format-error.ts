// The error of a binary log file (BLF, MCAP) that cannot be read on: where it breaks, and how
// much was read before (those messages were already delivered).
import { CanError } from '../errors.ts'

export class LogFormatError extends CanError {
  override readonly name = 'LogFormatError'
  /** the file path */
  readonly file: string
  /** byte offset in the file of the object (BLF) or record (MCAP) where reading stopped */
  readonly offset: number
  /** how many objects (BLF: inner objects; MCAP: messages) were read before */
  readonly objectIndex: number
  /** what is wrong, e.g. `the file ends inside the log container (512 of 9000 bytes)` */
  readonly reason: string

  constructor(
    file: string,
    offset: number,
    objectIndex: number,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`${file}: byte ${offset}, after ${objectIndex} objects: ${reason}`, options)
    this.file = file
    this.offset = offset
    this.objectIndex = objectIndex
    this.reason = reason
  }
}
