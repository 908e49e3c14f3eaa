// A socketcand client for tests: raw text over a real TCP socket, everything received kept
// as one string, with waits for what should arrive.
import { connect, type Socket } from 'node:net'

export class TextClient {
  readonly socket: Socket
  received = ''
  closed = false
  #waiters: (() => void)[] = []

  private constructor(socket: Socket) {
    this.socket = socket
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.received += chunk
      this.#wake()
    })
    socket.on('close', () => {
      this.closed = true
      this.#wake()
    })
    socket.on('error', () => {})
  }

  static connect(port: number, host = '127.0.0.1'): Promise<TextClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => resolve(new TextClient(socket)))
      socket.once('error', reject)
    })
  }

  send(text: string): void {
    this.socket.write(text)
  }

  /** Resolves once `check` holds for what was received. */
  async until(check: (received: string) => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!check(this.received)) {
      if (this.closed)
        throw new Error(
          `connection closed while waiting for ${what}; got ${JSON.stringify(this.received)}`,
        )
      const left = deadline - Date.now()
      if (left <= 0)
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.received)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Waits until `text` has been received in full. */
  expect(text: string, timeoutMs?: number): Promise<void> {
    return this.until((r) => r.includes(text), JSON.stringify(text), timeoutMs)
  }

  /** What arrived since the last take(), and forgets it. */
  take(): string {
    const text = this.received
    this.received = ''
    return text
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    return this.until(() => this.closed, 'the server to close the connection', timeoutMs)
  }

  close(): void {
    this.socket.destroy()
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter()
  }
}
