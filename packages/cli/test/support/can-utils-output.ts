// What can-utils 2020.11 printed, kept verbatim in ../fixtures/ (the same run as the library's
// log fixtures in @canbridge/server-bus: candump on vcan0 in the kernel harness):
//   candump -L vcan0,0:0,#FFFFFFFF          candump-L.log
//   candump vcan0,0:0,#FFFFFFFF             candump.txt
//   candump -x -L vcan0,0:0,#FFFFFFFF       candump-x-L.log
//   candump -x -ta -a vcan0,0:0,#FFFFFFFF   candump-x-ta-a.txt
import { readFileSync } from 'node:fs'

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')

export const CANDUMP_L = fixture('candump-L.log')
export const CANDUMP_COMPACT = fixture('candump.txt')
export const CANDUMP_LX = fixture('candump-x-L.log')
export const CANDUMP_X_TA_A = fixture('candump-x-ta-a.txt')
