// The CAN frame as an MCAP message: JSON with python-can's Message field names (so
// `can.Message(**json.loads(data))` rebuilds it in Python) and a JSON Schema (`jsonschema`
// encoding) that lets Foxglove list and plot the fields without a custom decoder.
import { CanMessage } from '../message.ts'

/** The schema name of raw frames; the reader takes the channels with this schema. */
export const CAN_FRAME_SCHEMA_NAME = 'canbridge.CanFrame'

const flag = (description: string) => ({ type: 'boolean', description })

export const CAN_FRAME_JSON_SCHEMA = JSON.stringify({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: CAN_FRAME_SCHEMA_NAME,
  description: "A CAN frame, with python-can's Message fields",
  type: 'object',
  properties: {
    timestamp: { type: 'number', description: 'receive time, seconds since the Unix epoch' },
    arbitration_id: { type: 'integer', minimum: 0, maximum: 0x1fffffff },
    is_extended_id: flag('29-bit identifier'),
    is_remote_frame: flag('remote transmission request'),
    is_error_frame: flag('error frame (arbitration_id holds the error class)'),
    channel: { type: ['string', 'null'], description: 'the bus, e.g. pi-garage/can0' },
    dlc: { type: 'integer', minimum: 0, maximum: 64, description: 'data length in bytes' },
    data: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 } },
    is_fd: flag('CAN FD frame'),
    is_rx: flag('received (false: sent by this end)'),
    bitrate_switch: flag('CAN FD bit rate switch'),
    error_state_indicator: flag('CAN FD error state indicator'),
  },
  required: [
    'timestamp',
    'arbitration_id',
    'is_extended_id',
    'is_remote_frame',
    'is_error_frame',
    'channel',
    'dlc',
    'data',
    'is_fd',
    'is_rx',
    'bitrate_switch',
    'error_state_indicator',
  ],
})

/** The JSON text of a frame (built by hand: this runs for every frame). */
export function canFrameJson(message: CanMessage): string {
  const data = message.data
  let bytes = ''
  for (let i = 0; i < data.length; i++) bytes += i === 0 ? `${data[i]}` : `,${data[i]}`
  return (
    `{"timestamp":${message.timestamp},"arbitration_id":${message.arbitrationId},` +
    `"is_extended_id":${message.isExtendedId},"is_remote_frame":${message.isRemoteFrame},` +
    `"is_error_frame":${message.isErrorFrame},"channel":${message.channel === null ? 'null' : JSON.stringify(message.channel)},` +
    `"dlc":${message.dlc},"data":[${bytes}],"is_fd":${message.isFd},"is_rx":${message.isRx},` +
    `"bitrate_switch":${message.bitrateSwitch},"error_state_indicator":${message.errorStateIndicator}}`
  )
}

/**
 * The message of a frame's JSON, its time the record's exact log time; throws a TypeError or
 * RangeError naming what is wrong.
 */
export function canFrameFromJson(text: string, logTimeNs: bigint): CanMessage {
  const value: unknown = JSON.parse(text)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError('the frame is not a JSON object')
  }
  const fields = value as Record<string, unknown>
  const data = fields['data']
  if (!Array.isArray(data) || !data.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    throw new TypeError('"data" is not an array of bytes')
  }
  const channel = fields['channel']
  if (channel !== null && typeof channel !== 'string') {
    throw new TypeError('"channel" is neither a string nor null')
  }
  return new CanMessage({
    timestampNs: logTimeNs,
    arbitrationId: integer(fields, 'arbitration_id'),
    isExtendedId: boolean(fields, 'is_extended_id'),
    isRemoteFrame: boolean(fields, 'is_remote_frame'),
    isErrorFrame: boolean(fields, 'is_error_frame'),
    channel,
    dlc: integer(fields, 'dlc'),
    data: data as number[],
    isFd: boolean(fields, 'is_fd'),
    isRx: boolean(fields, 'is_rx'),
    bitrateSwitch: boolean(fields, 'bitrate_switch'),
    errorStateIndicator: boolean(fields, 'error_state_indicator'),
  })
}

function integer(fields: Record<string, unknown>, name: string): number {
  const value = fields[name]
  if (!Number.isInteger(value)) throw new TypeError(`"${name}" is not an integer`)
  return value as number
}

function boolean(fields: Record<string, unknown>, name: string): boolean {
  const value = fields[name]
  if (typeof value !== 'boolean') throw new TypeError(`"${name}" is not a boolean`)
  return value
}
