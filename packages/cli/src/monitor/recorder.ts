// The monitor's record button: frames into a log file of the format asked for (whatever
// openLogWriter writes: candump -L, ASC, ...), named by the time it started, in one folder.
import { join } from 'node:path'
import { type CanMessage, type LogWriter, openLogWriter } from '@canbridge/server-bus'

export interface RecordingState {
  recording: boolean
  file: string | undefined
  frames: number
}

export class Recorder {
  readonly dir: string
  #writer: LogWriter | undefined
  #file: string | undefined
  #frames = 0

  constructor(dir: string) {
    this.dir = dir
  }

  get state(): RecordingState {
    return { recording: this.#writer !== undefined, file: this.#file, frames: this.#frames }
  }

  /** Starts a recording (`suffix`: `log`, `asc`, ...); throws a RangeError for an unknown one. */
  start(suffix: string, now = new Date()): string {
    if (this.#writer !== undefined) throw new RangeError(`already recording into ${this.#file}`)
    if (!/^[a-z0-9]{1,8}$/.test(suffix))
      throw new RangeError(`bad recording format ${JSON.stringify(suffix)}`)
    const stamp = now.toISOString().replace(/[:.]/g, '-')
    const file = join(this.dir, `canbridge-${stamp}.${suffix}`)
    this.#writer = openLogWriter(file)
    this.#file = file
    this.#frames = 0
    return file
  }

  observe(message: CanMessage): void {
    if (this.#writer === undefined) return
    this.#writer.onMessage(message)
    this.#frames++
  }

  /** Ends the recording; resolves once everything is in the file. */
  async stop(): Promise<RecordingState> {
    const writer = this.#writer
    this.#writer = undefined
    if (writer !== undefined) await writer.stop()
    return { recording: false, file: this.#file, frames: this.#frames }
  }
}
