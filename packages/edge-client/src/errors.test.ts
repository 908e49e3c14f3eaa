import { classesExtendingError } from '@canbridge/protocol/testing'
import { describe, expect, it } from 'vitest'
import { CanOpenError } from './can/can-source.ts'
import { ConfigError } from './config.ts'
import { EdgeError } from './errors.ts'
import { SpoolCorruptError, SpoolFullError, SpoolIoError } from './spool/errors.ts'
import { StartupError } from './supervisor.ts'

/** classes that extend Error directly on purpose: control flow inside one module, never thrown out */
const INTERNAL = new Set(['EdgeError', 'Invalid'])

describe('one error root', () => {
  it('every error the edge raises on purpose is an EdgeError with its own name', () => {
    const errors = [
      new ConfigError('x'),
      new StartupError('spool', 'x'),
      new CanOpenError('no-such-interface', 'can9', 'x'),
      new SpoolFullError('x', { bytesNeeded: 1, maxBytes: 1, bytes: 1 }),
      new SpoolCorruptError('x', { path: 'p' }),
      new SpoolIoError('x', { path: 'p', cause: undefined }),
    ]
    for (const error of errors) {
      expect(error).toBeInstanceOf(EdgeError)
      expect(error.name).toBe(error.constructor.name)
    }
  })

  it('no other class in the sources extends Error directly', async () => {
    expect(await classesExtendingError(import.meta.dirname, [...INTERNAL])).toEqual([])
  })
})
