// Errors as they cross between threads: structured cloning keeps only the standard error
// names and drops own fields (`code`, `reason`...), so errors cross as plain data and are
// made again, of their own class, on the other side.

export interface TransferredError {
  name: string
  message: string
  stack: string | undefined
  /** the error's own enumerable fields of plain values (`code`, `reason`, `offset`...) */
  fields: Record<string, string | number | boolean | null>
  cause: TransferredError | undefined
}

/** Error classes by `name`, to make transferred errors again with their class. */
export type ErrorClasses = Readonly<Record<string, { prototype: Error }>>

export function transferError(error: unknown): TransferredError {
  if (!(error instanceof Error)) {
    return { name: 'Error', message: String(error), stack: undefined, fields: {}, cause: undefined }
  }
  const fields: TransferredError['fields'] = {}
  for (const [key, value] of Object.entries(error)) {
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
      fields[key] = value as string | number | boolean | null
    }
  }
  return {
    name: error.name,
    message: error.message,
    stack: error.stack,
    fields,
    cause: error.cause === undefined ? undefined : transferError(error.cause),
  }
}

/**
 * The error again, an instance of its class when `classes` has its name (made without its
 * constructor, which would reformat the message), else a plain Error with the same fields.
 */
export function reviveError(data: TransferredError, classes: ErrorClasses): Error {
  const known = classes[data.name]
  const error: Error =
    known === undefined ? new Error(data.message) : Object.create(known.prototype)
  Object.defineProperty(error, 'message', {
    value: data.message,
    writable: true,
    configurable: true,
  })
  Object.defineProperty(error, 'name', { value: data.name, writable: true, configurable: true })
  if (data.stack !== undefined) {
    Object.defineProperty(error, 'stack', { value: data.stack, writable: true, configurable: true })
  }
  Object.assign(error, data.fields)
  if (data.cause !== undefined) {
    Object.defineProperty(error, 'cause', {
      value: reviveError(data.cause, classes),
      writable: true,
      configurable: true,
    })
  }
  return error
}
