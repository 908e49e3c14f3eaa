// The monitor's parts without a browser: the id table against frames whose timing and
// payloads the test chooses, the signal board against values computed here by hand, the
// command line's refusals, and the server's answers over real HTTP.
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseDbc } from '@canbridge/dbc'
import { CanMessage } from '@canbridge/server-bus'
import { describe, expect, it } from 'vitest'
import { UsageError } from '../../src/exit.ts'
import { IdTable } from '../../src/id-table.ts'
import { monitorSettings } from '../../src/monitor/monitor-command.ts'
import { MonitorServer } from '../../src/monitor/monitor-server.ts'
import { Recorder } from '../../src/monitor/recorder.ts'
import { BUCKET_MS, SignalBoard } from '../../src/monitor/signal-board.ts'

const DBC = `VERSION ""
BU_: ECU
BO_ 256 Engine: 8 ECU
 SG_ Speed : 0|16@1+ (0.25,-10) [0|0] "km/h" Vector__XXX
 SG_ Temp : 23|8@0- (1,0) [0|0] "degC" Vector__XXX
 SG_ Mode : 24|2@1+ (1,0) [0|3] "" Vector__XXX
VAL_ 256 Mode 0 "off" 1 "on" ;
`

function frame(id: number, timestamp: number, data: number[], channel = 'pi/can0'): CanMessage {
  return new CanMessage({ arbitrationId: id, isExtendedId: false, timestamp, data, channel })
}

describe('IdTable', () => {
  it('counts per channel and id, with period, jitter and the bytes that changed', () => {
    const table = new IdTable()
    // 0x100 every 10 ms exactly; byte 1 changes once, at 1.03
    for (let i = 0; i < 5; i++) table.observe(frame(0x100, 1 + i * 0.01, [i, i === 3 ? 9 : 0]))
    table.observe(frame(0x100, 1.04, [4, 9], 'pi/can1'))
    table.observe(
      new CanMessage({
        arbitrationId: 0x100,
        isExtendedId: true,
        timestamp: 1.05,
        data: [],
        channel: 'pi/can0',
      }),
    )
    const rows = table.rows()
    expect(rows.map((r) => [r.channel, r.id, r.count])).toEqual([
      ['pi/can0', '100', 5],
      ['pi/can0', '00000100', 1],
      ['pi/can1', '100', 1],
    ])
    const first = rows[0]!
    expect(first.periodMs).toBeCloseTo(10, 6)
    expect(first.jitterMs).toBeCloseTo(0, 6)
    expect(first.data).toBe('04 00')
    // byte 0 changed at every frame and byte 1 at 1.03 and 1.04: both within the last second
    expect(first.changed).toEqual([0, 1])
  })

  it('forgets a change after a second of the same bytes', () => {
    const table = new IdTable()
    table.observe(frame(0x1, 1, [1, 2]))
    table.observe(frame(0x1, 2.5, [1, 3]))
    expect(table.rows()[0]!.changed).toEqual([1])
  })
})

describe('SignalBoard', () => {
  it('decodes to the values computed by hand, with choices, and notes what it cannot', () => {
    const board = new SignalBoard(parseDbc(DBC))
    // Speed: raw 0x0190 = 400 → 400 * 0.25 - 10 = 90; Temp: Motorola from bit 23 = byte 2,
    // signed 0xF6 = -10; Mode: bits 24..25 of byte 3 = 1 → "on"
    board.observe(frame(0x100, 1, [1, 2])) // too short: Speed decoded from what is there
    board.observe(frame(0x200, 1, [1]))
    board.observe(frame(0x100, 1, [0x90, 0x01, 0xf6, 0x01, 0, 0, 0, 0]))
    const values = Object.fromEntries(board.rows().map((r) => [r.key, [r.value, r.unit, r.choice]]))
    expect(values['Engine.Speed']).toEqual([90, 'km/h', undefined])
    expect(values['Engine.Temp']).toEqual([-10, 'degC', undefined])
    expect(values['Engine.Mode']).toEqual([1, '', 'on'])
    expect(Object.fromEntries(board.notes)).toEqual({ UNKNOWN_ID: 1, WRONG_LENGTH: 1 })
  })

  it('plots in buckets of min, max and last; each reader gets what it has not seen', () => {
    const board = new SignalBoard(parseDbc(DBC))
    expect(() => board.plot('Engine.Nope', true)).toThrow(RangeError)
    board.plot('Engine.Speed', true)
    const speedFrame = (t: number, raw: number) =>
      frame(0x100, t, [raw & 0xff, raw >> 8, 0, 0, 0, 0, 0, 0])
    const bucket = BUCKET_MS / 1000
    board.observe(speedFrame(10, 40)) // 0
    board.observe(speedFrame(10 + bucket / 2, 80)) // 10, same bucket
    board.observe(speedFrame(10 + bucket, 60)) // 5, next bucket
    const first = new Map<string, number>()
    expect(board.plotSince(first)['Engine.Speed']).toEqual([
      { t: 10_000, min: 0, max: 10, last: 10 },
      { t: 10_000 + BUCKET_MS, min: 5, max: 5, last: 5 },
    ])
    board.observe(speedFrame(10 + bucket * 1.5, 120)) // 20 into the open bucket
    // the filling bucket again, nothing older
    expect(board.plotSince(first)['Engine.Speed']).toEqual([
      { t: 10_000 + BUCKET_MS, min: 5, max: 20, last: 20 },
    ])
    // a new reader gets everything kept
    expect(board.plotSince(new Map())['Engine.Speed']).toHaveLength(2)
  })
})

describe('monitor command line', () => {
  it.each([
    [{ socketcand: 'pi:29536', log: 'x.log' }, /different sources: give one/],
    [{ fleet: 'nats://127.0.0.1:4222', log: 'x.log' }, /different sources: give one/],
    [{ stream: 'X' }, /--stream goes with --fleet/],
    [{ socketcand: 'pi:29536' }, /needs --channel/],
    [{ channel: 'can0' }, /goes with --socketcand/],
    [{ speed: '2' }, /go with --log/],
    [{ log: 'x.log', speed: '0' }, /--speed must be a number > 0/],
    [{ http: 'nonsense' }, /--http must be \[host:\]port/],
    [{ http: '0.0.0.0:8080' }, /beyond this machine: give --pki/],
    [{ plot: ['A.B'] }, /--plot needs --dbc/],
  ])('refuses %o', (options, message) => {
    expect(() => monitorSettings(options)).toThrow(UsageError)
    expect(() => monitorSettings(options)).toThrow(message)
  })

  it('takes a page beyond this machine with --insecure, and HTTPS files from --pki', () => {
    expect(monitorSettings({ http: '0.0.0.0:8080', insecure: true }).httpsFiles).toBeUndefined()
    const settings = monitorSettings({ http: '[::]:8443', pki: 'pki' })
    expect(settings.http).toEqual({ host: '::', port: 8443 })
    expect(settings.httpsFiles).toEqual({
      cert: join('pki', 'server.crt'),
      key: join('pki', 'server.key'),
      ca: join('pki', 'ca.crt'),
    })
  })
})

describe('MonitorServer over HTTP', () => {
  it('serves the page, streams snapshots, plots and records on POSTs from its own origin only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'monitor-'))
    const table = new IdTable()
    const board = new SignalBoard(parseDbc(DBC))
    const recorder = new Recorder(dir)
    const server = new MonitorServer({
      host: '127.0.0.1',
      port: 0,
      table,
      board,
      recorder,
      health: () => ({
        source: 'test',
        state: 'active',
        edges: [],
        gaps: 0,
        drops: {},
        lost: 0,
        latencyMs: null,
        framesPerSecond: 0,
      }),
    })
    const url = await server.listen()
    try {
      const page = await fetch(url)
      expect(page.status).toBe(200)
      expect(await page.text()).toContain('<title>canbridge monitor</title>')
      expect((await fetch(`${url}uplot.js`)).status).toBe(200)
      expect((await fetch(`${url}nope`)).status).toBe(404)

      const foreign = await fetch(`${url}plot?signal=Engine.Speed`, {
        method: 'POST',
        headers: { origin: 'http://evil.example' },
      })
      expect(foreign.status).toBe(403)
      const plotted = await fetch(`${url}plot?signal=Engine.Speed`, { method: 'POST' })
      expect(await plotted.json()).toEqual({ plotted: ['Engine.Speed'] })
      const unknown = await fetch(`${url}plot?signal=X.Y`, { method: 'POST' })
      expect(unknown.status).toBe(400)

      const started = (await (
        await fetch(`${url}record/start?format=log`, { method: 'POST' })
      ).json()) as { file: string }
      table.observe(frame(0x123, 1700000000.5, [0xde, 0xad]))
      recorder.observe(frame(0x123, 1700000000.5, [0xde, 0xad]))
      const again = await fetch(`${url}record/start?format=log`, { method: 'POST' })
      expect(again.status).toBe(400)
      const stopped = (await (await fetch(`${url}record/stop`, { method: 'POST' })).json()) as {
        frames: number
      }
      expect(stopped.frames).toBe(1)
      // candump -L, as can-utils writes it
      expect(readFileSync(started.file, 'utf8')).toMatch(/^\(1700000000\.500000\) can0 123#DEAD\n$/)

      // the event stream: the first snapshot at once, with the table
      const events = await fetch(`${url}events`)
      const reader = events.body!.getReader()
      const { value } = await reader.read()
      const text = new TextDecoder().decode(value)
      expect(text.startsWith('data: ')).toBe(true)
      const snapshot = JSON.parse(text.slice(6).trim())
      expect(snapshot.rows[0].id).toBe('123')
      expect(snapshot.plotted).toEqual(['Engine.Speed'])
      await reader.cancel()
    } finally {
      await server.close()
    }
  })
})
