// The socketcan native addon (npm `socketcan` 4.3.1) and whether it carries our patch
// (patches/socketcan@4.3.1.patch: batch reads with the kernel's drop counter, FD flags,
// receive-own-messages, SO_RCVBUF, errno on send). An unpatched or older addon (a
// hand-copied can.node) still runs the edge, but then it must not claim drop accounting:
// `bindingSupport` says what is missing, in words the startup warning and doctor print.
import { createRequire } from 'node:module'

export interface NativeMessage {
  id: number
  ext?: boolean
  rtr?: boolean
  err?: boolean
  data: Buffer
  ts_sec?: number
  ts_usec?: number
}

export interface NativeRawChannel {
  addListener(event: 'onMessage', callback: (message: NativeMessage) => void): void
  addListener(event: 'onStopped', callback: () => void): void
  start(): void
  stop(): void
  send(message: { id: number; ext: boolean; rtr: boolean; data: Buffer }): number
  sendFD(message: {
    id: number
    ext: boolean
    fd_brs: boolean
    fd_esi?: boolean
    data: Buffer
  }): number
  setRxFilters(filters: { id: number; mask: number; invert: boolean }[]): void
  setErrorFilters(mask: number): void
  // added by the patch (absent on an unpatched addon)
  startBatch?(records: Uint8Array, onBatch: (count: number) => boolean | undefined): void
  readDrops?(): number
  setRecvOwnMsgs?(on: boolean): void
  setReceiveBuffer?(bytes: number, force: boolean): number
  // features version 2
  setBatchWait?(microseconds: number): void
  // features version 3: onBatch returning true holds the reader thread
  readBatch?(): number
  resumeBatch?(): void
}

/** What the patched addon says it adds (`features`). */
export interface BindingFeatures {
  batch?: boolean
  drops?: boolean
  fdFlags?: boolean
  recvOwnMsgs?: boolean
  rcvbuf?: boolean
  sendErrno?: boolean
  timestampNs?: boolean
  batchWait?: boolean
  batchHold?: boolean
  version?: number
}

/** Offsets and flag bits of a batch record, as the patched addon exports them. */
export interface BatchRecordLayout {
  TS_SEC_LO: number
  TS_SEC_HI: number
  TS_NSEC: number
  CAN_ID: number
  LENGTH: number
  FLAGS: number
  DROPS: number
  DATA: number
  FLAG_FD: number
  FLAG_BRS: number
  FLAG_ESI: number
  FLAG_OWN: number
}

export interface NativeModule {
  RawChannel: new (
    name: string,
    timestamps: boolean,
    protocol: number,
    nonBlockSend: boolean,
  ) => NativeRawChannel
  features?: BindingFeatures
  BATCH_RECORD_BYTES?: number
  BATCH_RECORD?: BatchRecordLayout
}

/** The record size and features version this edge was written against. */
export const BATCH_RECORD_BYTES = 88
export const FEATURES_VERSION = 1
const REQUIRED_FEATURES = [
  'batch',
  'drops',
  'fdFlags',
  'recvOwnMsgs',
  'rcvbuf',
  'sendErrno',
  'timestampNs',
] as const
const REQUIRED_METHODS = ['startBatch', 'readDrops', 'setRecvOwnMsgs', 'setReceiveBuffer'] as const

/** Loads the addon directly (the package's main also loads an XML parser we do not need). */
export function loadSocketCanModule(): NativeModule {
  const require = createRequire(import.meta.url)
  return require('socketcan/build/Release/can.node') as NativeModule
}

export interface BindingSupport {
  /** the patch is there, of a version this edge can use: batch reads and drop accounting */
  patched: boolean
  /** one line for logs and doctor */
  description: string
  /** what is missing (empty when patched) */
  missing: string[]
  /** the record layout (patched only) */
  layout: BatchRecordLayout | undefined
  /** setBatchWait() is there (features version 2): a steady bus is read many frames per wake-up */
  batchWait: boolean
  /** readBatch()/resumeBatch() are there (features version 3): the edge reads a steady bus on
   *  its own timer, with no wake-up of the binding's reader thread per batch */
  batchHold: boolean
}

/** What to do about an addon without the patch, or with an older one. */
export const PATCH_FIX =
  'reinstall so that pnpm applies patches/socketcan@4.3.1.patch (pnpm install), or use the single executable, which embeds the patched addon'

/**
 * For a patched addon that cannot read a steady bus on the edge's schedule (an older patch,
 * features version 1 or 2): what that costs, one line; undefined when nothing is missing.
 */
export function pacingShortfall(support: BindingSupport): string | undefined {
  if (!support.patched || support.batchHold) return undefined
  return support.batchWait
    ? 'the socketcan addon has an older canbridge patch (no readBatch/resumeBatch): on a steady bus its reader thread and the edge both wake for every paced batch; frames, drops and flags are still exact'
    : 'the socketcan addon has an older canbridge patch (no setBatchWait): on a steady bus the edge wakes for every frame, so --max-read-delay has no effect and a frame costs several times the CPU; frames, drops and flags are still exact'
}

/** Says whether `module` is the patched addon this edge needs, and if not, what it lacks. */
export function bindingSupport(module: NativeModule): BindingSupport {
  const features = module.features
  if (features === undefined || typeof features !== 'object') {
    return {
      patched: false,
      missing: ['features'],
      layout: undefined,
      batchWait: false,
      batchHold: false,
      description:
        'socketcan addon WITHOUT the canbridge patch (no .features: an unpatched or hand-copied can.node): frames the kernel drops are not counted, FD flags of short frames are lost, echoes are made by the edge',
    }
  }
  const missing: string[] = []
  const version = typeof features.version === 'number' ? features.version : 0
  if (version < FEATURES_VERSION) missing.push(`features.version ${FEATURES_VERSION}`)
  for (const name of REQUIRED_FEATURES) if (features[name] !== true) missing.push(name)
  const prototype = module.RawChannel.prototype as Record<string, unknown>
  for (const name of REQUIRED_METHODS) {
    if (typeof prototype[name] !== 'function') missing.push(`RawChannel.${name}()`)
  }
  if (module.BATCH_RECORD_BYTES !== BATCH_RECORD_BYTES)
    missing.push(`BATCH_RECORD_BYTES ${BATCH_RECORD_BYTES} (got ${module.BATCH_RECORD_BYTES})`)
  const layout = module.BATCH_RECORD
  if (layout === undefined) missing.push('BATCH_RECORD')
  if (missing.length > 0) {
    return {
      patched: false,
      missing,
      layout: undefined,
      batchWait: false,
      batchHold: false,
      description: `socketcan addon with an older or different canbridge patch (features version ${version}; missing: ${missing.join(', ')}): frames the kernel drops are not counted`,
    }
  }
  const batchWait = features.batchWait === true && typeof prototype['setBatchWait'] === 'function'
  const batchHold =
    features.batchHold === true &&
    typeof prototype['readBatch'] === 'function' &&
    typeof prototype['resumeBatch'] === 'function'
  const pacing = batchHold
    ? ' (read on a timer on a steady bus)'
    : batchWait
      ? ' (paced on a steady bus)'
      : ''
  return {
    patched: true,
    missing,
    layout,
    batchWait,
    batchHold,
    description: `socketcan addon with the canbridge patch (features version ${version}): batch reads${pacing}, kernel drop counter, FD/BRS/ESI flags, kernel echo, SO_RCVBUF, send errno`,
  }
}
