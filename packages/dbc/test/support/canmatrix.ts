// Runs test/oracle/canmatrix_oracle.py (canmatrix, from Debian's python3-canmatrix) on a DBC
// text and a job, and returns its answer.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Debian's interpreter, which sees python3-canmatrix; CANBRIDGE_PYTHON overrides it. */
export const PYTHON = process.env['CANBRIDGE_PYTHON'] ?? '/usr/bin/python3'
const SCRIPT = join(import.meta.dirname, '..', 'oracle', 'canmatrix_oracle.py')

export interface OracleJob {
  decode?: { id: number; extended: boolean; data: string }[]
  encode?: { id: number; extended: boolean; raw: Record<string, number | string> }[]
  benchRounds?: number
}

export interface OracleAnswer {
  /** per frame: signal → [raw, physical, VAL_ name or null] as text */
  decode: Record<string, [string, string, string | null]>[]
  /** per encode job: payload hex */
  encode: string[]
  decodeFps: number | null
}

export function runCanmatrix(dir: string, name: string, dbc: string, job: OracleJob): OracleAnswer {
  const dbcPath = join(dir, `${name}.dbc`)
  const jobPath = join(dir, `${name}.job.json`)
  const outPath = join(dir, `${name}.out.json`)
  writeFileSync(dbcPath, dbc, 'latin1')
  writeFileSync(jobPath, JSON.stringify(job))
  try {
    execFileSync(PYTHON, [SCRIPT, dbcPath, jobPath, outPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    })
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? ''
    throw new Error(
      `canmatrix oracle failed (${PYTHON} ${SCRIPT}); install Debian's python3-canmatrix (scripts/setup.sh does, as root):\n${stderr.slice(-2000)}`,
      { cause: error },
    )
  }
  return JSON.parse(readFileSync(outPath, 'utf8')) as OracleAnswer
}
