// Plain (TCP or Unix) edge connections read into one buffer their server reuses, instead of
// node:net's new buffer per read. Under a sustained stream those buffers are garbage at once,
// yet V8 frees them only at a scavenge or at its external-memory trigger (about 64 MB per
// thread): a thread that allocates little else, as TCPBus's worker, held that much of them.
import { Socket } from 'node:net'

/** Bytes one read may bring (node:net's own read size). */
export const READ_BUFFER_BYTES = 64 * 1024

/** node:net's constructor takes an accepted connection's handle: not in its public types. */
interface AdoptOptions {
  handle: unknown
  allowHalfOpen: boolean
  readable: true
  writable: true
  onread: { buffer: Uint8Array; callback: (bytes: number, buffer: Uint8Array) => boolean }
}

/**
 * The accepted connection (from a server made with `pauseOnConnect`, so nothing was read yet)
 * as a socket reading into `buffer`: each read is emitted as 'data', a view of the buffer
 * valid only while the listeners run (they copy what they keep). node:net gives `onread` only
 * to sockets it did not accept: the connection's handle moves to one that has it, and the
 * accepted socket, left without a handle, is destroyed (its server stops counting it).
 */
export function readIntoBuffer(accepted: Socket, buffer: Buffer): Socket {
  const owner = accepted as unknown as { _handle: unknown; allowHalfOpen: boolean }
  const handle = owner._handle
  if (handle === null || handle === undefined) {
    throw new Error('readIntoBuffer: the accepted socket has no handle (already closed?)')
  }
  owner._handle = null
  accepted.destroy()
  const options: AdoptOptions = {
    handle,
    allowHalfOpen: owner.allowHalfOpen,
    readable: true,
    writable: true,
    onread: {
      buffer,
      callback: (bytes) => {
        socket.emit('data', buffer.subarray(0, bytes))
        return true
      },
    },
  }
  const socket: Socket = new Socket(options as ConstructorParameters<typeof Socket>[0])
  return socket
}
