// Splits a stream of text chunks into lines, keeping a partial last line for the next chunk.

export class LineSplitter {
  #rest = ''

  /** Calls `onLine` for each complete line in `rest + chunk` (without its `\n`). */
  push(chunk: string, onLine: (line: string) => void): void {
    const text = this.#rest + chunk
    let start = 0
    for (;;) {
      const end = text.indexOf('\n', start)
      if (end === -1) break
      onLine(text.slice(start, end))
      start = end + 1
    }
    this.#rest = text.slice(start)
  }

  /** The last line when the text did not end with `\n`. */
  end(onLine: (line: string) => void): void {
    if (this.#rest !== '') onLine(this.#rest)
    this.#rest = ''
  }
}
