// Output to a reader that went away (`canbridge-edge --help | head -1`, a closed pipe):
// Node reports EPIPE as an 'error' event on process.stdout / process.stderr, and with no
// listener that is an uncaught exception with a stack trace. Nobody reads the output any
// more, so the rest of it is dropped and the program finishes with its own exit code.

let installed = false

function ignoreClosedReader(error: NodeJS.ErrnoException): void {
  if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return
  throw error
}

/** Idempotent. */
export function toleratePipeClose(): void {
  if (installed) return
  installed = true
  process.stdout.on('error', ignoreClosedReader)
  process.stderr.on('error', ignoreClosedReader)
}
