import { describe, expect, it } from 'vitest'
import { EncoderPool } from './encoder-pool.ts'

/** Takes the pool's next free encoder out, as a sender does before a write. */
function lendOne(pool: EncoderPool) {
  const encoder = pool.peek()
  if (encoder === undefined) throw new Error('none free')
  pool.lend(encoder)
  return encoder
}

describe('EncoderPool', () => {
  it('calls onReturn only when a sender found the pool empty, once per time it did', () => {
    let returns = 0
    const pool = new EncoderPool(() => returns++, 2)
    const a = lendOne(pool)
    pool.giveBack(a)
    expect(returns).toBe(0) // nobody waited: no pump for it

    const b = lendOne(pool)
    const c = lendOne(pool)
    expect(pool.peek()).toBeUndefined() // a sender finds none free and waits
    expect(pool.free).toBe(0)
    pool.giveBack(b)
    expect(returns).toBe(1)
    pool.giveBack(c)
    expect(returns).toBe(1) // the waiting sender was woken already
    expect(pool.free).toBe(2)
  })

  it('wakes a waiting sender when the link closes and every encoder comes back', () => {
    let returns = 0
    const pool = new EncoderPool(() => returns++, 1)
    lendOne(pool)
    expect(pool.peek()).toBeUndefined()
    pool.reclaimAll()
    expect(returns).toBe(1)
    expect(pool.free).toBe(1)
  })

  it('ignores an encoder given back twice (a late callback from a destroyed socket)', () => {
    let returns = 0
    const pool = new EncoderPool(() => returns++, 1)
    const a = lendOne(pool)
    expect(pool.peek()).toBeUndefined()
    pool.reclaimAll()
    pool.giveBack(a)
    expect(returns).toBe(1)
    expect(pool.free).toBe(1)
  })

  it('refuses a lend of an encoder peek() did not give, and a size below 1', () => {
    const pool = new EncoderPool(() => {}, 2)
    const first = pool.peek()!
    pool.lend(first)
    expect(() => pool.lend(first)).toThrow(/not the encoder peek\(\) gave/)
    expect(() => new EncoderPool(() => {}, 0)).toThrow(RangeError)
  })
})
