import { describe, expect, it } from 'vitest'
import { CanError, CanInitializationError, CanOperationError, CanTimeoutError } from './errors.ts'

describe('error hierarchy (python-can can/exceptions.py)', () => {
  it('derives every error from CanError with its own name and a cause', () => {
    const cause = new Error('root')
    for (const [Type, name] of [
      [CanInitializationError, 'CanInitializationError'],
      [CanOperationError, 'CanOperationError'],
      [CanTimeoutError, 'CanTimeoutError'],
    ] as const) {
      const error = new Type('failed', { cause })
      expect(error).toBeInstanceOf(CanError)
      expect(error).toBeInstanceOf(Error)
      expect(error.name).toBe(name)
      expect(error.cause).toBe(cause)
      expect(String(error)).toBe(`${name}: failed`)
    }
    expect(new CanError('x').name).toBe('CanError')
  })

  it('carries the reason and channel of a failed send', () => {
    const error = new CanOperationError('nope', { reason: 'listen-only', channel: 'pi/can0' })
    expect(error.reason).toBe('listen-only')
    expect(error.channel).toBe('pi/can0')
    expect(error.cause).toBeUndefined()
  })
})
