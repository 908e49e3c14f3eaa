// The JetStream stream a fleet writes: made when missing, checked when present. A stream
// configured so that canbridge could not keep its promise (not every subject captured,
// publishes not acknowledged, messages removed once one consumer read them) is refused by
// name instead of losing frames quietly.
import {
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream'
import { FLEET_ERROR, FleetError } from './errors.ts'
import type { FleetSubjects } from './subjects.ts'

export interface FleetStreamOptions {
  /** stream name (default CANBRIDGE) */
  name?: string
  /** copies of each message in a cluster (1 on a single server, 3 in production) */
  replicas?: number
  /** JetStream's dedupe window by message id; longer than the longest edge outage you replay */
  duplicateWindowMs?: number
  /** oldest data kept (0: no age limit) */
  maxAgeMs?: number
  /** bytes kept (-1: no limit); the oldest go first */
  maxBytes?: number
}

export const DEFAULT_STREAM = 'CANBRIDGE'
/** Largest batch message: 4,096 frames of 64 bytes with headers (and room to spare). */
const MIN_MAX_MSG_SIZE = 400 * 1024
const NS_PER_MS = 1_000_000

/** Creates the stream if it is missing; returns its name. Throws STREAM_CONFIG if unfit. */
export async function ensureStream(
  jsm: JetStreamManager,
  subjects: FleetSubjects,
  options: FleetStreamOptions = {},
): Promise<string> {
  const name = options.name ?? DEFAULT_STREAM
  const existing = await jsm.streams.info(name).catch((error: unknown) => {
    if ((error as { code?: number }).code === 10059) return undefined // stream not found
    throw error
  })
  if (existing) {
    const problems = streamProblems(existing.config, subjects)
    if (problems.length > 0) {
      throw new FleetError(
        FLEET_ERROR.STREAM_CONFIG,
        `stream ${name} cannot hold a canbridge fleet: ${problems.join('; ')}`,
      )
    }
    return name
  }
  const config: Partial<StreamConfig> & { name: string } = {
    name,
    subjects: subjects.stored(),
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: options.replicas ?? 1,
    duplicate_window: (options.duplicateWindowMs ?? 120_000) * NS_PER_MS,
    max_age: (options.maxAgeMs ?? 0) * NS_PER_MS,
    max_bytes: options.maxBytes ?? -1,
    max_msg_size: -1,
  }
  try {
    await jsm.streams.add(config)
  } catch (error) {
    // 10065: another stream already captures these subjects; say which, so the fix is clear
    if ((error as { code?: number }).code !== 10065) throw error
    const owners = await jsm.streams.names(subjects.stored()[0]).next()
    throw new FleetError(
      FLEET_ERROR.STREAM_CONFIG,
      `stream ${owners.join(', ') || '(unknown)'} already captures ${subjects.stored().join(', ')}: use that stream, or another subject prefix for ${name}`,
      { cause: error },
    )
  }
  return name
}

/** Why an existing stream's settings break canbridge's promise (empty: it is fit). */
export function streamProblems(config: StreamConfig, subjects: FleetSubjects): string[] {
  const problems: string[] = []
  const captured = new Set(config.subjects ?? [])
  const missing = subjects
    .stored()
    .filter((subject) => !captured.has(subject) && !captured.has('>'))
  if (missing.length > 0) {
    problems.push(
      `subjects ${JSON.stringify(config.subjects ?? [])} do not capture ${missing.join(', ')}`,
    )
  }
  if (config.no_ack) problems.push('no_ack is set: publishes would not be confirmed')
  if (config.retention !== RetentionPolicy.Limits) {
    problems.push(
      `retention is ${config.retention}: must be limits (every consumer reads every frame)`,
    )
  }
  if (config.max_msgs_per_subject > 0) {
    problems.push(
      `max_msgs_per_subject is ${config.max_msgs_per_subject}: a channel's history would be cut to that many batches`,
    )
  }
  if (config.max_msg_size > 0 && config.max_msg_size < MIN_MAX_MSG_SIZE) {
    problems.push(
      `max_msg_size ${config.max_msg_size} is below a full batch (${MIN_MAX_MSG_SIZE} bytes)`,
    )
  }
  return problems
}
