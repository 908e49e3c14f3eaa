import { describe, expect, it } from 'vitest'
import {
  checkSchedule,
  netemArgs,
  parseDuration,
  parseFaultSpec,
  periodicSchedule,
  runFault,
  tcCommands,
} from '../src/faults.ts'
import { clock, formatSample, Progress } from '../src/progress.ts'
import { cangenArgs, generatorsFor, overheadOf, pace } from '../src/traffic.ts'

describe('traffic plans', () => {
  it('mixed traffic: several cangen processes whose shares add up to 1, with extended, FD and remote frames', () => {
    const g = generatorsFor(['mixed'])
    expect(g.reduce((n, x) => n + x.share, 0)).toBeCloseTo(1)
    const args = g.map((x) => x.args.join(' '))
    expect(args).toContain('-m')
    expect(args).toContain('-I i -D i -L 8')
    const separate = generatorsFor(['extended', 'fd', 'remote']).map((x) => x.args.join(' '))
    expect(separate).toEqual(['-e', '-f -b', '-R'])
    expect(g.some((x) => x.fd)).toBe(true)
    expect(() => generatorsFor([])).toThrow(RangeError)
  })

  it('a rate becomes a gap in ms (fractions allowed), bursts grow below the minimum gap', () => {
    expect(pace(25, 1)).toEqual({ gapMs: 40, burst: 1 })
    expect(pace(40, 1)).toEqual({ gapMs: 25, burst: 1 })
    expect(pace(75, 1)).toEqual({ gapMs: 26.667, burst: 2 })
    expect(pace(2000, 1)).toEqual({ gapMs: 20, burst: 40 })
    expect(pace(1000, 1, 0.5)).toEqual({ gapMs: 20.5, burst: 21 })
    expect(pace(25, 1, 0.5)).toEqual({ gapMs: 39.5, burst: 1 })
    expect(pace(1000, 50)).toEqual({ gapMs: 50, burst: 50 })
    expect(() => pace(0, 1)).toThrow(RangeError)
  })

  it('overhead: the loop time not spent sleeping', () => {
    expect(overheadOf({ gapMs: 2, burst: 4 }, 1600)).toBeCloseTo(0.5)
    expect(overheadOf({ gapMs: 2, burst: 4 }, 0)).toBe(0)
  })

  it('cangen command line', () => {
    const [fd] = generatorsFor(['fd'])
    expect(cangenArgs('vcan0', fd!, { gapMs: 2.5, burst: 1 })).toEqual([
      'vcan0',
      '-g',
      '2.5',
      '-c',
      '1',
      '-f',
      '-b',
    ])
  })
})

describe('fault schedules', () => {
  it('durations', () => {
    expect(parseDuration('1500ms')).toBe(1500)
    expect(parseDuration('2s')).toBe(2000)
    expect(parseDuration('3')).toBe(3000)
    expect(parseDuration('1.5m')).toBe(90_000)
    expect(() => parseDuration('soon')).toThrow(RangeError)
  })

  it('specs', () => {
    expect(parseFaultSpec('server-restart@20s/3s')).toEqual({
      kind: 'server-restart',
      atMs: 20_000,
      durationMs: 3000,
      params: {},
    })
    expect(parseFaultSpec('partition@40s')).toMatchObject({ durationMs: 5000 })
    expect(parseFaultSpec('degrade@30s/10s?delay=80ms&loss=5%')).toMatchObject({
      params: { delay: '80ms', loss: '5%' },
    })
    expect(() => parseFaultSpec('meteor@1s')).toThrow(/unknown fault/)
    expect(() => parseFaultSpec('partition')).toThrow(/KIND@AT/)
    expect(() => parseFaultSpec('degrade@1s?loss=lots')).toThrow(/loss/)
  })

  it('every minute, kinds in turn, none too close to the end', () => {
    const s = periodicSchedule(60_000, ['server-restart', 'partition'], 600_000)
    expect(s.map((f) => f.atMs)).toEqual([
      30_000, 90_000, 150_000, 210_000, 270_000, 330_000, 390_000, 450_000, 510_000, 570_000,
    ])
    expect(s.map((f) => f.kind).slice(0, 3)).toEqual([
      'server-restart',
      'partition',
      'server-restart',
    ])
    expect(checkSchedule(s, 600_000)).toHaveLength(10)
    expect(() => checkSchedule([...s, { ...s[0]!, atMs: 31_000 }], 600_000)).toThrow(/overlap/)
    expect(() => checkSchedule([{ ...s[0]!, atMs: 700_000 }], 600_000)).toThrow(/after the run/)
  })

  it('netem and tc commands for the server port', () => {
    expect(netemArgs({})).toEqual(['delay', '50ms', '10ms', 'loss', '2%'])
    const lo = tcCommands('lo', 29536, ['loss', '100%'], true)
    expect(lo.setup.map((a) => a.join(' '))).toContain(
      'filter add dev lo parent 1: protocol ip prio 1 u32 match ip dport 29536 0xffff flowid 1:4',
    )
    expect(lo.setup.map((a) => a.join(' '))).toContain(
      'filter add dev lo parent 1: protocol ip prio 1 u32 match ip sport 29536 0xffff flowid 1:4',
    )
    expect(lo.teardown).toEqual([['qdisc', 'del', 'dev', 'lo', 'root']])
    const eth = tcCommands('eth0', 29536, ['loss', '100%'], true)
    expect(eth.teardown).toHaveLength(2)
  })

  it('runFault records what it did, and a failure without throwing', async () => {
    const calls: string[] = []
    let now = 1000
    const host = {
      runLocal: async (c: string, a: readonly string[]) => {
        calls.push(`${c} ${a.join(' ')}`)
        if (a[0] === 'qdisc' && a[1] === 'add' && a.includes('netem') && a.includes('fail'))
          throw new Error('nope')
      },
      runEdgeSide: async (c: string, a: readonly string[]) => {
        calls.push(`edge: ${c} ${a.join(' ')}`)
      },
      restartServer: async () => 'restarted',
      restartEdge: async () => 'edge restarted',
      interfaceState: (down: boolean) => calls.push(`iface ${down ? 'down' : 'up'}`),
      iface: 'vcan0',
      linkDev: 'lo',
      port: 1234,
      sleep: async (ms: number) => {
        now += ms
      },
      now: () => now,
    }
    const bounce = await runFault(
      { kind: 'iface-bounce', atMs: 0, durationMs: 2000, params: {} },
      'iface-bounce #1',
      host,
    )
    expect(bounce).toMatchObject({ label: 'iface-bounce #1', startMs: 1000, endMs: 3000 })
    expect(calls).toEqual([
      'iface down',
      'edge: ip link set vcan0 down',
      'edge: ip link set vcan0 up',
      'iface up',
    ])
    calls.length = 0
    const partition = await runFault(
      { kind: 'partition', atMs: 0, durationMs: 5000, params: {} },
      'partition #1',
      host,
    )
    expect(partition.error).toBeUndefined()
    expect(calls.at(-1)).toBe('tc qdisc del dev lo root')
    const restart = await runFault(
      { kind: 'server-restart', atMs: 0, durationMs: 1, params: {} },
      's',
      host,
    )
    expect(restart.detail).toBe('restarted')
    const failing = await runFault(
      { kind: 'edge-restart', atMs: 0, durationMs: 0, params: {} },
      'e',
      {
        ...host,
        restartEdge: async () => {
          throw new Error('no edge')
        },
      },
    )
    expect(failing.error).toBe('no edge')
  })
})

describe('progress', () => {
  const sample = {
    elapsedMs: 65_000,
    durationMs: 600_000,
    sent: 130_000,
    received: 129_500,
    sentRate: 2001,
    receivedRate: 1999,
    phase: 'partition #1',
    connected: false,
  }

  it('formats the live line', () => {
    expect(formatSample(sample)).toBe(
      '1:05 / 10:00 (8:55 left) | on bus 130,000 @ 2001/s | received 129,500 @ 1999/s | behind 500 | edge away | partition #1',
    )
    expect(clock(3_725_000)).toBe('1:02:05')
  })

  it('rewrites one line on a terminal, prints periodically otherwise', () => {
    const tty: string[] = []
    const p = new Progress({ isTTY: true, columns: 80, write: (t) => tty.push(t) })
    p.update(sample)
    p.update(sample)
    p.message('fault!')
    expect(tty[0]!.startsWith('\r\x1b[2K')).toBe(true)
    expect(tty).toHaveLength(4)
    expect(tty.at(-1)).toBe('fault!\n')
    const log: string[] = []
    const q = new Progress({ isTTY: false, write: (t) => log.push(t) }, { intervalMs: 10_000 })
    q.update(sample, 0)
    q.update(sample, 5000)
    q.update(sample, 10_000)
    expect(log).toHaveLength(2)
    expect(log[0]!.endsWith('\n')).toBe(true)
  })
})
