// What can-utils 2020.11 wrote, kept verbatim in fixtures/: the expected outputs of the
// candump-format and ASC tests (the screen formats of the same run, candump.txt and
// candump-x-ta-a.txt, are with the CLI's tests in @canbridge/cli). One run of traffic on vcan0
// (Linux 6.1 in the kernel harness; cansend and cangen -m / -R on the same host, so candump -x says TX):
//   candump -L vcan0,0:0,#FFFFFFFF          candump-L.log
//   candump -x -L vcan0,0:0,#FFFFFFFF       candump-x-L.log
//   TZ=UTC log2asc -I candump-L.log vcan0   log2asc-candump-L.asc
// and a log written by hand for log2asc (two interfaces, a python-can style `##0`, a time
// going backwards) with its conversion:
//   two-interfaces.log, TZ=UTC log2asc -I two-interfaces.log vcan0 vcan1   log2asc-two-interfaces.asc
import { readFileSync } from 'node:fs'

const fixture = (name: string) =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')

export const CANDUMP_L = fixture('candump-L.log')
export const CANDUMP_LX = fixture('candump-x-L.log')
export const LOG2ASC_OF_CANDUMP_L = fixture('log2asc-candump-L.asc')
export const TWO_INTERFACES_LOG = fixture('two-interfaces.log')
export const LOG2ASC_OF_TWO_INTERFACES = fixture('log2asc-two-interfaces.asc')
