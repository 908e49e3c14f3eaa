// The monitor's web side: the page, its script and uPlot as static files, and a stream of
// server-sent events that carries a snapshot of everything a few times a second (the id
// table, signals, new plot points, link health, the recording). The browser changes what is
// plotted and starts or stops a recording with small POSTs, accepted only from the page's
// own origin. 127.0.0.1 unless told otherwise; elsewhere HTTPS with client certificates.
import { readFile } from 'node:fs/promises'
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IdRow, IdTable } from '../id-table.ts'
import type { Recorder, RecordingState } from './recorder.ts'
import type { PlotBucket, PlotCursors, SignalBoard, SignalRow } from './signal-board.ts'

/** How often readers get a snapshot. */
export const SNAPSHOT_MS = 250

export interface Health {
  source: string
  state: string
  edges: { edgeId: string; peer: string; channels: readonly string[] }[]
  /** frames missing in the sequences, and the edges' drop reports by reason */
  gaps: number
  drops: Record<string, number>
  /** frames lost, each counted once (gaps and reports together) */
  lost: number
  /** age of the newest frame when it was read, ms (edge clock against ours) */
  latencyMs: number | null
  framesPerSecond: number
}

export interface Snapshot {
  rows: IdRow[]
  signals: SignalRow[]
  known: string[]
  plotted: string[]
  plots: Record<string, PlotBucket[]>
  health: Health
  recording: RecordingState
  notes: Record<string, number>
}

export interface MonitorServerOptions {
  host: string
  port: number
  table: IdTable
  board: SignalBoard | undefined
  recorder: Recorder
  health: () => Health
  /** HTTPS: certificate, key and the CA browsers' client certificates must come from */
  tls?: { cert: Buffer; key: Buffer; ca: Buffer }
}

const PAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../monitor-page')
const require = createRequire(import.meta.url)

/** The files the page loads, by URL path. */
const FILES: Record<string, { file: () => string; type: string }> = {
  '/': { file: () => path.join(PAGE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: () => path.join(PAGE_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: () => path.join(PAGE_DIR, 'style.css'), type: 'text/css; charset=utf-8' },
  '/uplot.js': {
    file: () => require.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  '/uplot.css': {
    file: () => require.resolve('uplot/dist/uPlot.min.css'),
    type: 'text/css; charset=utf-8',
  },
}

interface Reader {
  response: ServerResponse
  cursors: PlotCursors
}

export class MonitorServer {
  readonly #options: MonitorServerOptions
  readonly #server: Server
  readonly #readers = new Set<Reader>()
  #timer: NodeJS.Timeout | undefined
  /** the last snapshot sent, for a reader that just came */
  #last: Omit<Snapshot, 'plots'> | undefined

  constructor(options: MonitorServerOptions) {
    this.#options = options
    const handler = (request: IncomingMessage, response: ServerResponse): void => {
      this.#handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' })
        response.end(`internal error: ${(error as Error).message}\n`)
      })
    }
    this.#server = options.tls
      ? createHttpsServer({ ...options.tls, requestCert: true, rejectUnauthorized: true }, handler)
      : createHttpServer(handler)
  }

  get url(): string {
    const address = this.#server.address() as AddressInfo
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    return `${this.#options.tls ? 'https' : 'http'}://${host}:${address.port}/`
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject)
        resolve()
      })
    })
    this.#timer = setInterval(() => this.#broadcast(), SNAPSHOT_MS)
    return this.url
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    for (const reader of this.#readers) reader.response.end()
    this.#readers.clear()
    this.#server.closeAllConnections()
    await new Promise((resolve) => this.#server.close(resolve))
  }

  /** What every reader gets now (rates are over the time since the previous call). */
  common(): Omit<Snapshot, 'plots'> {
    const { table, board, recorder, health } = this.#options
    return {
      rows: table.rows(),
      signals: board?.rows() ?? [],
      known: board?.known ?? [],
      plotted: board?.plotted ?? [],
      health: health(),
      recording: recorder.state,
      notes: Object.fromEntries(board?.notes ?? []),
    }
  }

  #send(reader: Reader, common: Omit<Snapshot, 'plots'>): void {
    const plots = this.#options.board?.plotSince(reader.cursors) ?? {}
    reader.response.write(`data: ${JSON.stringify({ ...common, plots })}\n\n`)
  }

  #broadcast(): void {
    if (this.#readers.size === 0) return
    const common = this.common()
    this.#last = common
    for (const reader of this.#readers) this.#send(reader, common)
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://monitor')
    if (request.method === 'GET') {
      if (url.pathname === '/events') return this.#subscribe(request, response)
      const entry = FILES[url.pathname]
      if (entry === undefined) return reply(response, 404, { error: `no ${url.pathname} here` })
      response.writeHead(200, { 'content-type': entry.type, 'cache-control': 'no-cache' })
      response.end(await readFile(entry.file()))
      return
    }
    if (request.method !== 'POST') return reply(response, 405, { error: 'GET or POST only' })
    // a page of another site must not drive this one (the browser says where a POST is from)
    const origin = request.headers.origin
    if (origin !== undefined && new URL(origin).host !== request.headers.host) {
      return reply(response, 403, { error: `requests from ${origin} are not accepted` })
    }
    try {
      switch (url.pathname) {
        case '/plot': {
          const board = this.#options.board
          if (board === undefined) return reply(response, 409, { error: 'no DBC loaded (--dbc)' })
          const signal = url.searchParams.get('signal') ?? ''
          board.plot(signal, url.searchParams.get('on') !== '0')
          return reply(response, 200, { plotted: board.plotted })
        }
        case '/record/start':
          return reply(response, 200, {
            file: this.#options.recorder.start(url.searchParams.get('format') ?? 'log'),
          })
        case '/record/stop':
          return reply(response, 200, await this.#options.recorder.stop())
        default:
          return reply(response, 404, { error: `no ${url.pathname} here` })
      }
    } catch (error) {
      if (error instanceof RangeError) return reply(response, 400, { error: error.message })
      throw error
    }
  }

  #subscribe(request: IncomingMessage, response: ServerResponse): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    })
    const reader: Reader = { response, cursors: new Map() }
    this.#readers.add(reader)
    this.#last ??= this.common()
    this.#send(reader, this.#last)
    request.on('close', () => this.#readers.delete(reader))
  }
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' })
  response.end(JSON.stringify(body))
}
