// SocketcandTokenizer on hand-written streams: every case as one chunk, byte by byte and
// split at every offset; the bound on message length; every error code with its offset.
import { describe, expect, it } from 'vitest'
import { chunkings } from '../testing/index.ts'
import { SOCKETCAND_ERROR_CODE, SocketcandError, SocketcandTokenizer } from './index.ts'

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0))

interface Outcome {
  messages: string[]
  error: unknown
}

function run(chunks: Uint8Array[], options = {}, end = true): Outcome {
  const tokenizer = new SocketcandTokenizer(options)
  const messages: string[] = []
  try {
    for (const chunk of chunks) tokenizer.write(chunk, (text) => messages.push(text))
    if (end) tokenizer.end()
  } catch (error) {
    return { messages, error }
  }
  return { messages, error: undefined }
}

/** Runs `stream` in every chunking and checks each gives the same messages and error. */
function expectEveryChunking(
  stream: string,
  messages: string[],
  error?: { code: string; offset: number },
  options = {},
): void {
  for (const { name, chunks } of chunkings(ascii(stream))) {
    const outcome = run(chunks, options)
    expect(outcome.messages, name).toEqual(messages)
    if (error === undefined) {
      expect(outcome.error, name).toBeUndefined()
    } else {
      expect(outcome.error, name).toBeInstanceOf(SocketcandError)
      expect((outcome.error as SocketcandError).code, name).toBe(error.code)
      expect((outcome.error as SocketcandError).offset, name).toBe(error.offset)
    }
  }
}

describe('SocketcandTokenizer', () => {
  it('cuts a socketcand session into its messages in every chunking', () => {
    // What socketcand writes to a raw-mode client, including its BCM-style trailing blanks
    // and the "> \n" it writes after some errors.
    const stream =
      '< hi >< ok >< ok >< frame 123 23.424242 11223344 >< frame 1AAAAAAA 23.500000  >' +
      '< error 004 24.000001 >< error configuring interface can0 > \n< echo >'
    expectEveryChunking(stream, [
      '< hi >',
      '< ok >',
      '< ok >',
      '< frame 123 23.424242 11223344 >',
      '< frame 1AAAAAAA 23.500000  >',
      '< error 004 24.000001 >',
      '< error configuring interface can0 >',
      '< echo >',
    ])
  })

  it('skips blanks between messages and keeps them inside', () => {
    expectEveryChunking(' \t\r\n< open vcan0 >\r\n\r\n<  rawmode\t>  ', [
      '< open vcan0 >',
      '<  rawmode\t>',
    ])
  })

  it('accepts a message of exactly maxMessageLength bytes', () => {
    const message = `< ${'x'.repeat(16)} >` // 20 bytes
    expectEveryChunking(`${message}< ok >`, [message, '< ok >'], undefined, {
      maxMessageLength: 20,
    })
  })

  it('refuses a message one byte longer, at the offset where it starts', () => {
    const message = `< ${'x'.repeat(17)} >` // 21 bytes
    expectEveryChunking(
      `< ok >${message}`,
      ['< ok >'],
      { code: SOCKETCAND_ERROR_CODE.MESSAGE_TOO_LONG, offset: 6 },
      { maxMessageLength: 20 },
    )
  })

  it('stops an endless message at the bound, holding no more than the bound', () => {
    const tokenizer = new SocketcandTokenizer({ maxMessageLength: 1000 })
    tokenizer.write(ascii('< frame '), () => {})
    const chunk = ascii('A'.repeat(100))
    let thrown: unknown
    let writes = 0
    try {
      for (; writes < 1000; writes++) {
        tokenizer.write(chunk, () => {})
        expect(tokenizer.pendingBytes).toBeLessThanOrEqual(1000)
      }
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(SocketcandError)
    expect((thrown as SocketcandError).code).toBe('MESSAGE_TOO_LONG')
    expect((thrown as SocketcandError).offset).toBe(0)
    expect(writes).toBe(9) // 8 + 9 × 100 = 908 bytes held; the 10th write passes 1000
  })

  it('uses socketcand’s buffer size as the default bound', () => {
    expect(new SocketcandTokenizer().maxMessageLength).toBe(8290)
    const longest = `< ${'x'.repeat(8286)} >`
    expect(run([ascii(longest)]).messages).toEqual([longest])
    const error = run([ascii(`< ${'x'.repeat(8287)} >`)]).error as SocketcandError
    expect(error.code).toBe('MESSAGE_TOO_LONG')
  })

  it('refuses a byte outside a message that is not a blank', () => {
    expectEveryChunking('< hi >x< ok >', ['< hi >'], {
      code: SOCKETCAND_ERROR_CODE.UNEXPECTED_BYTE,
      offset: 6,
    })
    expectEveryChunking('ok >', [], { code: 'UNEXPECTED_BYTE', offset: 0 })
    expectEveryChunking('< hi >>', ['< hi >'], { code: 'UNEXPECTED_BYTE', offset: 6 })
  })

  it('refuses a second < inside a message', () => {
    expectEveryChunking('< ok < hi >', [], { code: SOCKETCAND_ERROR_CODE.BAD_CHARACTER, offset: 5 })
  })

  it('refuses control and non-ASCII bytes inside a message', () => {
    for (const [byte, offset] of [
      [0x00, 7],
      [0x1b, 7],
      [0x7f, 7],
      [0xc3, 7],
    ] as const) {
      const bytes = Uint8Array.of(...ascii('< ok >< '), byte, ...ascii(' >'))
      for (const { name, chunks } of chunkings(bytes)) {
        const outcome = run(chunks)
        expect(outcome.messages, name).toEqual(['< ok >'])
        expect((outcome.error as SocketcandError).code, name).toBe('BAD_CHARACTER')
        expect((outcome.error as SocketcandError).offset, name).toBe(offset + 1)
      }
    }
  })

  it('reports a stream that ends inside a message', () => {
    expectEveryChunking('< ok >< frame 123', ['< ok >'], {
      code: SOCKETCAND_ERROR_CODE.TRUNCATED_MESSAGE,
      offset: 6,
    })
    expect(run([ascii('< ok > \n')]).error).toBeUndefined()
  })

  it('stays failed after an error until reset', () => {
    const tokenizer = new SocketcandTokenizer()
    const first = (() => {
      try {
        tokenizer.write(ascii('junk'), () => {})
      } catch (error) {
        return error
      }
    })()
    expect(first).toBeInstanceOf(SocketcandError)
    const messages: string[] = []
    expect(() => tokenizer.write(ascii('< ok >'), (m) => messages.push(m))).toThrow(first as Error)
    expect(() => tokenizer.end()).toThrow(first as Error)
    tokenizer.reset()
    tokenizer.write(ascii('< ok >'), (m) => messages.push(m))
    expect(messages).toEqual(['< ok >'])
    expect(tokenizer.bytesRead).toBe(6)
  })

  it('names the offset and the code in its error message', () => {
    const error = run([ascii('< hi >?')]).error as SocketcandError
    expect(error.name).toBe('SocketcandError')
    expect(error.message).toBe(
      "UNEXPECTED_BYTE: byte 0x3f outside a '< ... >' message (not whitespace) (at offset 6)",
    )
  })

  it('refuses a bound that is not an integer in 3..16 MiB', () => {
    for (const bad of [0, 2, 1.5, Number.NaN, 16 * 1024 * 1024 + 1]) {
      expect(() => new SocketcandTokenizer({ maxMessageLength: bad })).toThrow(RangeError)
    }
  })
})
