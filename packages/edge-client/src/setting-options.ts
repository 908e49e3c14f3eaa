// The commander options of one daemon setting, in the shape its values take (repeatable,
// a switch, an optional value, a pair): shared by the daemon's command line and `doctor`,
// which accepts every daemon flag.
import { Option } from 'commander'
import type { SETTINGS } from './config.ts'

type Setting = (typeof SETTINGS)[number]

const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  value,
]

/** The options for `setting`, with `help` as their text. */
export function settingOptions(setting: Setting, help: string): Option[] {
  switch (setting.key) {
    case 'channels':
      return [new Option(`${setting.flag} <name>`, help).argParser(collect)]
    case 'tlsPins':
      return [new Option(`${setting.flag} <pin>`, help).argParser(collect)]
    case 'listenOnly':
    case 'insecure':
    case 'socketcandLineFeeds':
      return [new Option(setting.flag, help)]
    case 'socketcand':
      // the address is optional: `--socketcand` alone serves 127.0.0.1 on port 29536
      return [new Option(`${setting.flag} [address]`, help)]
    case 'socketcandBeacon':
      // both forms defined, so commander sets no default and the lower layers still count
      return [
        new Option(setting.flag, help),
        new Option('--no-socketcand-beacon', 'with --socketcand, no discovery beacon'),
      ]
    case 'kernelEcho':
      return [
        new Option(setting.flag, help),
        new Option('--no-kernel-echo', 'the edge echoes its own frames once the kernel took them'),
      ]
    default:
      return [new Option(`${setting.flag} ${setting.placeholder ?? '<value>'}`, help)]
  }
}
