// Replaces `node:fs` for the bundled edge code: readFileSync of a file under the virtual
// root (e.g. new URL('../package.json', import.meta.url)) returns the copy embedded at build
// time; every other path goes to Node's fs.

import { FILES } from 'canbridge-sea:embedded'
import * as fs from 'node:fs'
import { virtualPath } from '../runtime.ts'

export * from 'node:fs'

type ReadOptions = Parameters<typeof fs.readFileSync>[1]

export function readFileSync(
  file: fs.PathOrFileDescriptor,
  options?: ReadOptions,
): string | Buffer {
  const virtual = virtualPath(file as string | URL)
  if (virtual === undefined) return fs.readFileSync(file, options as fs.ObjectEncodingOptions)
  const text = FILES[virtual]
  if (text === undefined) {
    const error = new Error(
      `ENOENT: no such file in the executable, open '${virtual}'`,
    ) as NodeJS.ErrnoException
    error.code = 'ENOENT'
    throw error
  }
  const encoding = typeof options === 'string' ? options : options?.encoding
  return encoding ? Buffer.from(text).toString(encoding) : Buffer.from(text)
}

export default { ...fs, readFileSync }
