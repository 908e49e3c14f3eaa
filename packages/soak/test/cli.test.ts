import { describe, expect, it } from 'vitest'
import { parseArgs } from '../src/cli.ts'

const silent = { out: () => {}, err: () => {} }

describe('canbridge-soak arguments', () => {
  it('defaults', () => {
    const { options, json } = parseArgs([], silent)
    expect(options).toMatchObject({
      durationS: 60,
      rate: 1000,
      shapes: ['mixed'],
      iface: 'vcan0',
      faults: [],
      port: 0,
      edge: 'spawn',
      flagPolicy: 'exact',
      timestampToleranceUs: 0,
    })
    expect(json).toBe(false)
  })

  it('--duration, --rate, --json, faults in time order', () => {
    const { options, json } = parseArgs(
      [
        '--duration',
        '90',
        '--rate',
        '2000',
        '--json',
        '--fault',
        'partition@40s/5s',
        '--fault',
        'server-restart@20s/3s',
      ],
      silent,
    )
    expect(options.durationS).toBe(90)
    expect(options.rate).toBe(2000)
    expect(json).toBe(true)
    expect(options.faults.map((f) => f.kind)).toEqual(['server-restart', 'partition'])
  })

  it('--fault-every makes a schedule', () => {
    const { options } = parseArgs(['--duration', '600', '--fault-every', '60s'], silent)
    expect(options.faults).toHaveLength(10)
    expect(options.faults.map((f) => f.kind).slice(0, 5)).toEqual([
      'server-restart',
      'partition',
      'degrade',
      'iface-bounce',
      'edge-restart',
    ])
  })

  it("--pki and the other security options reach the soak's TCPBus", () => {
    const { options } = parseArgs(
      ['--listen', '0.0.0.0', '--pki', 'canbridge-pki', '--allow-peer', '192.168.1.0/24'],
      silent,
    )
    expect(options.listenHost).toBe('0.0.0.0')
    expect(options.security).toEqual({
      tls: {
        certFile: 'canbridge-pki/server.crt',
        keyFile: 'canbridge-pki/server.key',
        clientCaFile: 'canbridge-pki/ca.crt',
      },
      allowedPeers: ['192.168.1.0/24'],
    })
    expect(parseArgs(['--tokens-file', 't.json', '--insecure'], silent).options.security).toEqual({
      auth: { tokensFile: 't.json' },
      insecure: true,
    })
    expect(() => parseArgs(['--tls-cert', 'a.crt'], silent)).toThrow(/go together/)
  })

  it('rejects bad usage with a message', () => {
    expect(() => parseArgs(['--shape', 'wobbly'], silent)).toThrow(/unknown shape/)
    expect(() => parseArgs(['--rate', 'fast'], silent)).toThrow(/--rate/)
    // absurd numbers are refused with the setting's range
    expect(() => parseArgs(['--rate', '1e9'], silent)).toThrow(
      '--rate must be a number from 1 to 1000000, got "1e9"',
    )
    expect(() => parseArgs(['--duration', '1e12'], silent)).toThrow(
      '--duration must be a number from 1 to 31536000, got "1e12"',
    )
    expect(() => parseArgs(['--port', '70000'], silent)).toThrow(
      '--port must be a number from 0 to 65535, got "70000"',
    )
    expect(() => parseArgs(['--edge', 'external'], silent)).toThrow(/fixed --port/)
    expect(() => parseArgs(['--fault', 'partition@70s'], silent)).toThrow(/after the run/)
    expect(() => parseArgs(['--bogus'], silent)).toThrow()
  })

  it('--help explains faults, shapes and the Raspberry Pi setup', () => {
    let text = ''
    expect(() => parseArgs(['--help'], { out: (s) => (text += s), err: () => {} })).toThrow()
    for (const word of [
      'server-restart',
      'partition',
      'iface-bounce',
      'edge-restart',
      'degrade',
      'mixed',
      '--ssh',
      'Raspberry Pi',
      'kernel harness',
      'Exit status',
    ]) {
      expect(text).toContain(word)
    }
  })
})
