// The root of every error canbridge-edge raises on purpose (configuration, start-up, CAN
// sockets, the spool): `instanceof EdgeError` tells ours from the platform's.

export class EdgeError extends Error {
  override readonly name: string = 'EdgeError'
}
