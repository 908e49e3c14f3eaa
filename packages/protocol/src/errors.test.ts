import { describe, expect, it } from 'vitest'
import { classesExtendingError } from './testing/error-roots.ts'

describe('one error root', () => {
  it('no class in the sources but CodecError extends Error directly', async () => {
    expect(await classesExtendingError(import.meta.dirname, ['CodecError'])).toEqual([])
  })
})

describe("the codecs' errors", () => {
  it('are CodecErrors with their own names', async () => {
    const { CodecError, ProtocolError } = await import('./errors.ts')
    const { SocketcandError } = await import('./socketcand/errors.ts')
    for (const error of [
      new ProtocolError('BAD_MAGIC', 'x'),
      new SocketcandError('BAD_FRAME', 'x'),
    ]) {
      expect(error).toBeInstanceOf(CodecError)
      expect(error.name).toBe(error.constructor.name)
    }
  })
})
