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

describe('one root', () => {
  it('every error class the package exports is a CanError', async () => {
    const entries = [
      await import('./index.ts'),
      await import('./edge-server-api.ts'),
      await import('./internal.ts'),
    ]
    const errorClasses = new Map<string, unknown>()
    for (const exports of entries)
      for (const [name, value] of Object.entries(exports))
        if (typeof value === 'function' && value.prototype instanceof Error)
          errorClasses.set(name, value)
    // the log readers' and the socketcand link's errors are among them, not only errors.ts'
    expect([...errorClasses.keys()]).toEqual(
      expect.arrayContaining(['CanTimeoutError', 'LogParseError', 'LogFormatError']),
    )
    const outside = [...errorClasses]
      .filter(
        ([name, value]) =>
          name !== 'CanError' && !((value as { prototype: unknown }).prototype instanceof CanError),
      )
      .map(([name]) => name)
    expect(outside).toEqual([])
  })
})
