import { classesExtendingError } from '@canbridge/protocol/testing'
import { describe, expect, it } from 'vitest'

describe('one error root', () => {
  it('no class in the sources but CliError extends Error directly', async () => {
    expect(await classesExtendingError(import.meta.dirname, ['CliError'])).toEqual([])
  })
})

describe('the errors the command raises', () => {
  it('are CliErrors with their own names', async () => {
    const { CliError } = await import('./errors.ts')
    const { UsageError } = await import('./exit.ts')
    const { KeysError } = await import('./keys/errors.ts')
    const { LocalCanError } = await import('./vcan/local-can.ts')
    for (const error of [
      new UsageError('x'),
      new KeysError('NO_PKI', 'x'),
      new LocalCanError('x'),
    ]) {
      expect(error).toBeInstanceOf(CliError)
      expect(error.name).toBe(error.constructor.name)
    }
  })
})
