// Optional Prometheus metrics (prom-client) over HTTP at /metrics: the same figures as the
// statistics log line, read when scraped.
import { createServer, type Server } from 'node:http'
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import type { Logger } from './logger.ts'
import type { Snapshot } from './supervisor.ts'

export interface SnapshotSource {
  snapshot(): Snapshot
}

/** Builds the registry; each scrape reads a fresh snapshot. */
export function createRegistry(source: SnapshotSource): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'canbridge_edge_process_' })
  let current: Snapshot | undefined
  const fresh = (): Snapshot => {
    current = source.snapshot()
    return current
  }
  const perChannel = (
    name: string,
    help: string,
    pick: (c: Snapshot['channels'][number]) => number,
    kind: 'counter' | 'gauge',
  ): void => {
    const Metric = kind === 'counter' ? Counter : Gauge
    new Metric({
      name,
      help,
      labelNames: ['channel'],
      registers: [registry],
      collect(this: Counter | Gauge) {
        const s = name === 'canbridge_edge_frames_read_total' ? fresh() : (current ?? fresh())
        this.reset()
        for (const c of s.channels) {
          if (this instanceof Counter) this.inc({ channel: c.name }, pick(c))
          else this.set({ channel: c.name }, pick(c))
        }
      },
    })
  }
  perChannel(
    'canbridge_edge_frames_read_total',
    'frames taken from the CAN channel',
    (c) => c.framesRead,
    'counter',
  )
  perChannel(
    'canbridge_edge_read_batches_total',
    'wake-ups that read frames from the CAN channel (frames read / read batches: frames per read)',
    (c) => c.readBatches,
    'counter',
  )
  perChannel(
    'canbridge_edge_frames_sent_total',
    'frames written to the server (resends included)',
    (c) => c.framesSent,
    'counter',
  )
  perChannel(
    'canbridge_edge_frames_acked_total',
    'frames acknowledged by the server',
    (c) => c.framesAcked,
    'counter',
  )
  perChannel(
    'canbridge_edge_frames_echoed_total',
    'own transmitted frames echoed with the TX flag',
    (c) => c.framesEchoed,
    'counter',
  )
  perChannel(
    'canbridge_edge_drops_ring_full_total',
    'frames dropped: memory ring full',
    (c) => c.dropsRingFull,
    'counter',
  )
  perChannel(
    'canbridge_edge_drops_spool_full_total',
    'frames dropped: spool full (drop-oldest)',
    (c) => c.dropsSpoolFull,
    'counter',
  )
  perChannel(
    'canbridge_edge_drops_ring_oldest_total',
    'frames dropped: oldest in a full ring without spool (drop-oldest)',
    (c) => c.dropsRingOldest,
    'counter',
  )
  perChannel(
    'canbridge_edge_drops_kernel_overflow_total',
    'frames the kernel dropped from the full socket receive queue (kernel-overflow)',
    (c) => c.dropsKernel,
    'counter',
  )
  perChannel(
    'canbridge_edge_drops_interface_total',
    "frames the interface's controller or driver lost: rx_dropped, rx_over_errors, rx_fifo_errors (interface-loss)",
    (c) => c.dropsInterface,
    'counter',
  )
  perChannel(
    'canbridge_edge_ring_bytes',
    'bytes held in the memory ring',
    (c) => c.ringBytes,
    'gauge',
  )
  perChannel(
    'canbridge_edge_ring_capacity_bytes',
    'memory ring size',
    (c) => c.ringCapacity,
    'gauge',
  )
  perChannel('canbridge_edge_spool_bytes', 'bytes in the disk spool', (c) => c.spoolBytes, 'gauge')
  perChannel(
    'canbridge_edge_spool_frames',
    'frames in the disk spool',
    (c) => c.spoolFrames,
    'gauge',
  )
  perChannel(
    'canbridge_edge_periodic_refused_total',
    'periodic tasks refused: listen-only, or a frame outside --tx-allow',
    (c) => c.periodicRefused,
    'counter',
  )
  perChannel(
    'canbridge_edge_periodic_rate_limited_total',
    'periodic frames skipped by --tx-rate-limit',
    (c) => c.periodicRateLimited,
    'counter',
  )
  const refusedBy: [string, (c: Snapshot['channels'][number]) => number][] = [
    ['listen-only', (c) => c.txRefusedListenOnly],
    ['not-allowed', (c) => c.txRefusedNotAllowed],
    ['rate-limited', (c) => c.txRefusedRateLimited],
  ]
  new Counter({
    name: 'canbridge_edge_tx_refused_total',
    help: 'TRANSMIT requests refused by this edge, by TRANSMIT_RESULT error',
    labelNames: ['channel', 'reason'],
    registers: [registry],
    collect(this: Counter) {
      this.reset()
      for (const c of (current ?? fresh()).channels) {
        for (const [reason, pick] of refusedBy) this.inc({ channel: c.name, reason }, pick(c))
      }
    },
  })
  const global = (name: string, help: string, pick: (s: Snapshot) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect(this: Gauge) {
        this.set(pick(current ?? fresh()))
      },
    })
  }
  global('canbridge_edge_connected', '1 while connected to the server', (s) =>
    s.connected ? 1 : 0,
  )
  global('canbridge_edge_reconnects', 'connections re-established', (s) => s.reconnects)
  global(
    'canbridge_edge_failovers',
    'connections that moved on to the next server of --server',
    (s) => s.failovers,
  )
  global(
    'canbridge_edge_worker_restarts',
    'worker threads restarted after a crash',
    (s) => s.workerRestarts,
  )
  global('canbridge_edge_uptime_seconds', 'seconds since start', (s) => s.uptimeMs / 1000)
  return registry
}

export interface MetricsServer {
  readonly port: number
  close(): Promise<void>
}

export async function startMetrics(
  port: number,
  source: SnapshotSource,
  log: Logger,
): Promise<MetricsServer> {
  const registry = createRegistry(source)
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404).end('not found: try /metrics\n')
      return
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => {
        log.error({ err: error }, 'metrics collection failed')
        response.writeHead(500).end()
      },
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const bound = typeof address === 'object' && address ? address.port : port
  log.info({ port: bound }, 'metrics at /metrics')
  return {
    port: bound,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
