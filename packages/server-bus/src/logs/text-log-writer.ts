// What the log writers share: the file (or stream) their lines go through, the interface
// names of the channels, the count, and stop(). Each writer formats a message as its lines.
import type { Writable } from 'node:stream'
import type { Listener } from '../listeners.ts'
import type { CanMessage } from '../message.ts'
import { InterfaceNames, type InterfaceNaming } from './interface-name.ts'
import { TextSink, type TextSinkOptions } from './text-sink.ts'

export interface LogNamingOptions {
  /** how a channel becomes the interface name in the file (default `interface`) */
  naming?: InterfaceNaming | undefined
  /** the name for a message without a channel (default `vcan0`, as python-can) */
  defaultInterface?: string | undefined
}

export abstract class TextLogWriter implements Listener {
  protected readonly names: InterfaceNames
  readonly #sink: TextSink
  #count = 0

  /** Opens `target` for writing (truncated unless `append`), or writes to a stream. */
  constructor(target: string | Writable, options: TextSinkOptions & LogNamingOptions) {
    this.names = new InterfaceNames(options.naming, options.defaultInterface)
    this.#sink = new TextSink(target, options)
  }

  /** the file path, or `stream` */
  get name(): string {
    return this.#sink.name
  }

  /** messages written so far */
  get count(): number {
    return this.#count
  }

  /** Returns a promise only when the output pushes back: a Notifier then waits. */
  onMessage(message: CanMessage): void | Promise<void> {
    const text = this.format(message)
    this.#count++
    return this.#sink.write(text)
  }

  /** Writes what is buffered and closes the file. Idempotent. */
  stop(): Promise<void> {
    return this.#sink.close()
  }

  /** The message's text, `\n` included. */
  protected abstract format(message: CanMessage): string
}
