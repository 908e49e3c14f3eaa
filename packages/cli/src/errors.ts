// The root of every error the canbridge command raises on purpose (a bad command line, a
// key store problem, a local CAN socket it cannot use): `instanceof CliError` tells ours
// from the platform's and the libraries'.

export class CliError extends Error {
  override readonly name: string = 'CliError'
}
