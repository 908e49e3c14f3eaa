// --socketcand and --socketcand-beacon: every form, every source, every bad value.
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { parseFlags } from '../../src/main.ts'
import { socketcandBuses } from '../../src/socketcand/buses.ts'

const base = { server: 'localhost:29536', channels: ['can0'] }

function socketcand(value: unknown) {
  return loadConfig({ ...base, socketcand: value }, {}).socketcand
}

describe('socketcand settings', () => {
  it('are off by default, beacon on', () => {
    const config = loadConfig(base, {})
    expect(config.socketcand).toBeNull()
    expect(config.socketcandBeacon).toBe(true)
  })

  it('send no error frames and no line feeds by default, as socketcand without -e', () => {
    const config = loadConfig(base, {})
    expect(config.socketcandErrorMask).toBe(0)
    expect(config.socketcandLineFeeds).toBe(false)
  })

  it('take an error mask in hex as socketcand -e does, and refuse one beyond CAN_ERR_MASK', () => {
    const mask = (value: unknown) =>
      loadConfig({ ...base, socketcandErrorMask: value }, {}).socketcandErrorMask
    expect(mask('0x1FFFFFFF')).toBe(0x1fffffff)
    expect(mask('1fffffff')).toBe(0x1fffffff)
    expect(mask('004')).toBe(4)
    expect(mask('off')).toBe(0)
    expect(mask(12)).toBe(12)
    for (const bad of ['20000000', 'xyz', '0x', -1, 1.5]) {
      expect(() => mask(bad)).toThrow(
        /bad socketcand-error-mask .*expected a hexadecimal error mask from 0 to 1FFFFFFF/,
      )
    }
    const flags = parseFlags(['--socketcand-error-mask', '1FFFFFFF', '--socketcand-line-feeds'])
    expect(flags).toMatchObject({ socketcandErrorMask: '1FFFFFFF', socketcandLineFeeds: true })
  })

  it('take every address form; a host alone gets port 29536, no host is loopback, * every address', () => {
    expect(socketcand(true)).toEqual({ host: '127.0.0.1', port: 29536 })
    expect(socketcand('on')).toEqual({ host: '127.0.0.1', port: 29536 })
    expect(socketcand('off')).toBeNull()
    expect(socketcand(false)).toBeNull()
    expect(socketcand(29537)).toEqual({ host: '127.0.0.1', port: 29537 })
    expect(socketcand('29537')).toEqual({ host: '127.0.0.1', port: 29537 })
    expect(socketcand('0')).toEqual({ host: '127.0.0.1', port: 0 })
    expect(socketcand('192.168.1.5:30000')).toEqual({ host: '192.168.1.5', port: 30000 })
    expect(socketcand('192.168.1.5')).toEqual({ host: '192.168.1.5', port: 29536 })
    expect(socketcand('localhost')).toEqual({ host: 'localhost', port: 29536 })
    expect(socketcand('[::1]:29536')).toEqual({ host: '::1', port: 29536 })
    expect(socketcand('[::]')).toEqual({ host: '::', port: 29536 })
    expect(socketcand('*:1234')).toEqual({ host: undefined, port: 1234 })
    expect(socketcand(':1234')).toEqual({ host: '127.0.0.1', port: 1234 })
  })

  it('refuse bad values, naming the setting, the source and what is expected', () => {
    for (const bad of ['70000', 'host:70000', 'a b', '[zz]:1', 'host:port', -1, 1.5, {}]) {
      let message = ''
      try {
        socketcand(bad)
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError)
        message = (error as Error).message
      }
      expect(message).toBe(
        `bad socketcand ${JSON.stringify(bad)} (from --socketcand): expected PORT, HOST:PORT or [IPv6]:PORT (port 0..65535, 0 = any free port), HOST alone (port 29536), *:PORT (every address), on (127.0.0.1, port 29536) or off`,
      )
    }
    expect(() => loadConfig(base, { CANBRIDGE_SOCKETCAND_BEACON: 'maybe' })).toThrow(
      'bad socketcand-beacon "maybe" (from CANBRIDGE_SOCKETCAND_BEACON): expected true or false (1/0, yes/no, on/off)',
    )
  })

  it('come from the environment and flags; --no-socketcand-beacon wins over the environment', () => {
    const env = { CANBRIDGE_SOCKETCAND: '127.0.0.1:4000', CANBRIDGE_SOCKETCAND_BEACON: 'on' }
    expect(loadConfig(base, env)).toMatchObject({
      socketcand: { host: '127.0.0.1', port: 4000 },
      socketcandBeacon: true,
    })
    const flags = parseFlags(['--socketcand', '--no-socketcand-beacon'])
    expect(flags).toEqual({ socketcand: true, socketcandBeacon: false })
    expect(loadConfig({ ...base, ...flags }, env)).toMatchObject({
      socketcand: { host: '127.0.0.1', port: 29536 },
      socketcandBeacon: false,
    })
    // without the flag, the lower layers decide (commander sets no default)
    expect(parseFlags([])).toEqual({})
    expect(parseFlags(['--socketcand-beacon', '--socketcand', '8000'])).toEqual({
      socketcand: '8000',
      socketcandBeacon: true,
    })
  })
})

describe('socketcand buses', () => {
  it('are the channels by name; a name socketcand cannot carry is left out with why', () => {
    expect(socketcandBuses(['can0', 'virtual:demo?rate=10', 'virtual:a-long-bench-name'])).toEqual({
      buses: [
        { name: 'can0', spec: 'can0', channel: 0 },
        { name: 'virtual:demo', spec: 'virtual:demo?rate=10', channel: 1 },
      ],
      refused: [
        {
          channel: 'virtual:a-long-bench-name',
          reason:
            'socketcand bus names have at most 16 characters; rename the channel to serve it over socketcand',
        },
      ],
    })
  })
})
