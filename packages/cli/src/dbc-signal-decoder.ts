// A DBC file as the MCAP writer's SignalDecoder (convert --dbc, dump --dbc): the frames the
// database knows, by message name, choices by name; a frame that does not fit it (wrong length,
// unknown multiplexer value) is a note the writer counts, its raw frame still recorded.
import { readFile } from 'node:fs/promises'
import { type Database, parseDbc } from '@canbridge/dbc'
import { type LogWriter, MCAPWriter, type SignalDecoder } from '@canbridge/server-bus'

export function dbcSignalDecoder(database: Database): SignalDecoder {
  return {
    decode(message) {
      const decoded = database.decode(message, { choices: true })
      if (decoded.name === undefined) return null
      if (decoded.note !== undefined) throw new Error(`${decoded.name}: ${decoded.note.detail}`)
      return { name: decoded.name, signals: decoded.signals }
    },
  }
}

/** Reads and parses a DBC file; the error names the file. */
export async function loadDbcDecoder(path: string): Promise<SignalDecoder> {
  try {
    return dbcSignalDecoder(parseDbc(await readFile(path, 'utf8')))
  } catch (error) {
    throw new Error(`cannot use the DBC file ${path}: ${(error as Error).message}`, {
      cause: error,
    })
  }
}

/** The note after a recording whose decoder threw on some frames, if it did. */
export function decodeErrorNote(writer: LogWriter | undefined): string | undefined {
  if (!(writer instanceof MCAPWriter) || writer.decodeErrors === 0) return undefined
  return `${writer.decodeErrors} frames did not fit the DBC (recorded raw only), e.g. ${writer.lastDecodeError?.message}`
}
