// Fault injection: the schedule (parsed from `--fault` specs or made by `--fault-every`) and
// the actions. The actions that need the soak's own objects (the TCPBus, the edge process)
// are callbacks of the FaultHost; the network and interface faults are real kernel
// mechanisms: `tc netem` on the link for the server's port, `ip link set <iface> down/up`.

export const FAULT_KINDS = [
  'server-restart',
  'partition',
  'degrade',
  'iface-bounce',
  'edge-restart',
] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

export const FAULT_HELP: Record<FaultKind, string> = {
  'server-restart':
    'close the TCPBus listener and every session, reopen on the same port after DURATION (default 3s); the edge buffers meanwhile',
  partition:
    'drop every packet of the server port both ways (tc netem loss 100%) for DURATION (default 5s)',
  degrade:
    'tc netem on the server port for DURATION (default 10s): delay=50ms jitter=10ms loss=2% (change with ?delay=..&jitter=..&loss=..)',
  'iface-bounce':
    'ip link set IFACE down, up again after DURATION (default 2s); cangen is restarted after it',
  'edge-restart':
    'SIGTERM the edge, wait for it to exit, start it again after DURATION (default 0s); frames on the bus while no edge runs are reported as missed, not lost',
}

const DEFAULT_DURATION_MS: Record<FaultKind, number> = {
  'server-restart': 3000,
  partition: 5000,
  degrade: 10_000,
  'iface-bounce': 2000,
  'edge-restart': 0,
}

export interface FaultSpec {
  kind: FaultKind
  /** ms after the traffic started */
  atMs: number
  durationMs: number
  params: Record<string, string>
}

/** Parses `1500`, `1500ms`, `2s`, `1.5m` into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text)
  if (!match) throw new RangeError(`bad duration ${JSON.stringify(text)} (like 500ms, 5s, 2m)`)
  const unit = match[2] ?? 's'
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000
  return Math.round(Number(match[1]) * factor)
}

/**
 * Parses one fault spec: `KIND@AT[/DURATION][?key=value&...]`, e.g. `server-restart@20s/3s`,
 * `partition@40s/5s`, `degrade@30s/10s?delay=80ms&loss=5%`.
 */
export function parseFaultSpec(text: string): FaultSpec {
  const match = /^([a-z-]+)@([^/?]+)(?:\/([^?]+))?(?:\?(.*))?$/.exec(text.trim())
  if (!match) {
    throw new RangeError(
      `bad fault ${JSON.stringify(text)}: expected KIND@AT[/DURATION][?k=v&..], e.g. partition@40s/5s`,
    )
  }
  const kind = match[1] as FaultKind
  if (!FAULT_KINDS.includes(kind)) {
    throw new RangeError(
      `unknown fault ${JSON.stringify(match[1])} (known: ${FAULT_KINDS.join(', ')})`,
    )
  }
  const params: Record<string, string> = {}
  for (const part of (match[4] ?? '').split('&')) {
    if (part === '') continue
    const [key, value] = part.split('=')
    if (!key || value === undefined)
      throw new RangeError(`bad fault parameter ${JSON.stringify(part)}`)
    params[key] = value
  }
  if (kind === 'degrade') netemArgs(params) // validates
  return {
    kind,
    atMs: parseDuration(match[2]!),
    durationMs: match[3] === undefined ? DEFAULT_DURATION_MS[kind] : parseDuration(match[3]),
    params,
  }
}

/**
 * A fault every `everyMs`, kinds taken in turn from `cycle`, the first at `everyMs / 2`,
 * none starting later than `durationMs - endMarginMs`.
 */
export function periodicSchedule(
  everyMs: number,
  cycle: readonly FaultKind[],
  durationMs: number,
  endMarginMs = 10_000,
): FaultSpec[] {
  if (!(everyMs > 0)) throw new RangeError('the fault interval must be > 0')
  if (cycle.length === 0) throw new RangeError('no fault kinds to cycle through')
  const out: FaultSpec[] = []
  for (let at = everyMs / 2, i = 0; at <= durationMs - endMarginMs; at += everyMs, i++) {
    const kind = cycle[i % cycle.length]!
    out.push({ kind, atMs: Math.round(at), durationMs: DEFAULT_DURATION_MS[kind], params: {} })
  }
  return out
}

/** Checks a schedule against the run: in time order, inside the run, not overlapping. */
export function checkSchedule(specs: readonly FaultSpec[], durationMs: number): FaultSpec[] {
  const sorted = [...specs].sort((a, b) => a.atMs - b.atMs)
  for (const [i, spec] of sorted.entries()) {
    if (spec.atMs >= durationMs) {
      throw new RangeError(
        `fault ${spec.kind}@${spec.atMs}ms starts after the run ends (${durationMs} ms)`,
      )
    }
    const next = sorted[i + 1]
    if (next !== undefined && spec.atMs + spec.durationMs >= next.atMs) {
      throw new RangeError(
        `faults overlap: ${spec.kind}@${spec.atMs}ms and ${next.kind}@${next.atMs}ms`,
      )
    }
  }
  return sorted
}

/** netem arguments for a degrade (defaults delay 50ms, jitter 10ms, loss 2%). */
export function netemArgs(params: Record<string, string>): string[] {
  const known = new Set(['delay', 'jitter', 'loss', 'rate'])
  for (const key of Object.keys(params)) {
    if (!known.has(key))
      throw new RangeError(`unknown degrade parameter ${key} (known: ${[...known].join(', ')})`)
  }
  const delay = params['delay'] ?? '50ms'
  const jitter = params['jitter'] ?? '10ms'
  const loss = params['loss'] ?? '2%'
  if (!/^\d+(\.\d+)?(us|ms|s)$/.test(delay) || !/^\d+(\.\d+)?(us|ms|s)$/.test(jitter)) {
    throw new RangeError('delay and jitter must be like 50ms')
  }
  if (!/^\d+(\.\d+)?%$/.test(loss)) throw new RangeError('loss must be like 2%')
  const args = ['delay', delay, jitter, 'loss', loss]
  if (params['rate'] !== undefined) {
    if (!/^\d+(\.\d+)?([kmg]?bit)$/i.test(params['rate']))
      throw new RangeError('rate must be like 1mbit')
    args.push('rate', params['rate'])
  }
  return args
}

/**
 * `tc` commands that put netem on the traffic of one TCP port of `dev` (both directions on
 * `lo`; on another device, egress only, plus an ingress drop for a partition) and take it away.
 */
export function tcCommands(
  dev: string,
  port: number,
  netem: readonly string[],
  partition: boolean,
): { setup: string[][]; teardown: string[][] } {
  const p = String(port)
  const setup = [
    [
      'qdisc',
      'add',
      'dev',
      dev,
      'root',
      'handle',
      '1:',
      'prio',
      'bands',
      '4',
      'priomap',
      ...'1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1'.split(' '),
    ],
    ['qdisc', 'add', 'dev', dev, 'parent', '1:4', 'handle', '40:', 'netem', ...netem],
    [
      'filter',
      'add',
      'dev',
      dev,
      'parent',
      '1:',
      'protocol',
      'ip',
      'prio',
      '1',
      'u32',
      'match',
      'ip',
      'dport',
      p,
      '0xffff',
      'flowid',
      '1:4',
    ],
    [
      'filter',
      'add',
      'dev',
      dev,
      'parent',
      '1:',
      'protocol',
      'ip',
      'prio',
      '1',
      'u32',
      'match',
      'ip',
      'sport',
      p,
      '0xffff',
      'flowid',
      '1:4',
    ],
  ]
  const teardown = [['qdisc', 'del', 'dev', dev, 'root']]
  if (partition && dev !== 'lo') {
    setup.push(['qdisc', 'add', 'dev', dev, 'handle', 'ffff:', 'ingress'])
    setup.push([
      'filter',
      'add',
      'dev',
      dev,
      'parent',
      'ffff:',
      'protocol',
      'ip',
      'prio',
      '1',
      'u32',
      'match',
      'ip',
      'dport',
      p,
      '0xffff',
      'action',
      'drop',
    ])
    teardown.push(['qdisc', 'del', 'dev', dev, 'ingress'])
  }
  return { setup, teardown }
}

/** What happened, for the report's timeline. Times in ms since the epoch. */
export interface FaultEvent {
  kind: FaultKind
  /** `partition #2` */
  label: string
  plannedAtMs: number
  startMs: number
  /** when the fault was lifted (the action's second half done) */
  endMs: number
  detail: string
  error?: string | undefined
}

export interface FaultHost {
  /** run a command on the workstation (tc); rejects with its stderr on failure */
  runLocal(command: string, args: readonly string[]): Promise<void>
  /** run a command where the CAN interface is (ip link) */
  runEdgeSide(command: string, args: readonly string[]): Promise<void>
  restartServer(downMs: number): Promise<string>
  /** stops the edge, waits `pauseMs`, starts it; returns when it is connected again */
  restartEdge(pauseMs: number): Promise<string>
  /** the interface went down (true) or came up (false) */
  interfaceState(down: boolean): void
  iface: string
  linkDev: string
  port: number
  sleep(ms: number): Promise<void>
  now(): number
}

/** Undo actions of the faults in force now (netem in place, an interface down). */
const inForce = new Set<() => Promise<void>>()

/** Lifts every fault in force (on Ctrl-C: no netem or interface left behind). */
export async function liftFaultsInForce(): Promise<void> {
  for (const undo of [...inForce]) {
    inForce.delete(undo)
    await undo().catch(() => {})
  }
}

/** Runs one fault; never throws (a failure is recorded in the event). */
export async function runFault(
  spec: FaultSpec,
  label: string,
  host: FaultHost,
): Promise<FaultEvent> {
  const event: FaultEvent = {
    kind: spec.kind,
    label,
    plannedAtMs: spec.atMs,
    startMs: host.now(),
    endMs: host.now(),
    detail: '',
  }
  try {
    switch (spec.kind) {
      case 'server-restart':
        event.detail = await host.restartServer(spec.durationMs)
        break
      case 'edge-restart':
        event.detail = await host.restartEdge(spec.durationMs)
        break
      case 'iface-bounce': {
        host.interfaceState(true)
        const up = () => host.runEdgeSide('ip', ['link', 'set', host.iface, 'up'])
        inForce.add(up)
        try {
          await host.runEdgeSide('ip', ['link', 'set', host.iface, 'down'])
          await host.sleep(spec.durationMs)
        } finally {
          inForce.delete(up)
          await up()
          host.interfaceState(false)
        }
        event.detail = `${host.iface} down for ${spec.durationMs} ms`
        break
      }
      case 'partition':
      case 'degrade': {
        const partition = spec.kind === 'partition'
        const netem = partition ? ['loss', '100%'] : netemArgs(spec.params)
        const { setup, teardown } = tcCommands(host.linkDev, host.port, netem, partition)
        const lift = async () => {
          for (const args of teardown) await host.runLocal('tc', args).catch(() => {})
        }
        inForce.add(lift)
        try {
          for (const args of setup) await host.runLocal('tc', args)
          await host.sleep(spec.durationMs)
        } finally {
          inForce.delete(lift)
          await lift()
        }
        event.detail = `${host.linkDev} port ${host.port}: netem ${netem.join(' ')} for ${spec.durationMs} ms`
        break
      }
    }
  } catch (error) {
    event.error = error instanceof Error ? error.message : String(error)
  }
  event.endMs = host.now()
  return event
}
