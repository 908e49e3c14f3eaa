// The socket-write worker thread: the socket-write side (socket-write-side.ts) on the worker's
// end of the supervisor's channel. A failure ends the worker; the supervisor starts another.
import { SocketWriteSide } from './socket-write-side.ts'
import { threadEnd } from './thread-end.ts'

new SocketWriteSide(threadEnd()!)
