// What each doctor check returns, and how the report is printed.

export type Status = 'OK' | 'WARN' | 'FAIL'

export interface CheckResult {
  status: Status
  /** short subject: `kernel`, `can0`, `server`, ... */
  name: string
  /** one line: what was found */
  summary: string
  /** what to do about it (WARN and FAIL), one instruction per line */
  fix?: string[]
}

export function ok(name: string, summary: string): CheckResult {
  return { status: 'OK', name, summary }
}

export function warn(name: string, summary: string, fix: string[]): CheckResult {
  return { status: 'WARN', name, summary, fix }
}

export function fail(name: string, summary: string, fix: string[]): CheckResult {
  return { status: 'FAIL', name, summary, fix }
}

/** The lines of one result: `STATUS  name  summary`, then indented `fix:` lines. */
export function formatResult(result: CheckResult, nameWidth: number): string {
  const head = `${result.status.padEnd(5)} ${result.name.padEnd(nameWidth)}  ${result.summary}`
  const indent = ' '.repeat(6 + nameWidth + 2)
  const fixes = (result.fix ?? []).map(
    (line, i) => `${indent}${i === 0 ? 'fix: ' : '     '}${line}`,
  )
  return [head, ...fixes].join('\n')
}

export interface Tally {
  OK: number
  WARN: number
  FAIL: number
}

export function tally(results: readonly CheckResult[]): Tally {
  const counts: Tally = { OK: 0, WARN: 0, FAIL: 0 }
  for (const r of results) counts[r.status]++
  return counts
}

/** 0 when nothing failed (warnings included), 1 when any check failed. */
export function exitCode(results: readonly CheckResult[]): 0 | 1 {
  return results.some((r) => r.status === 'FAIL') ? 1 : 0
}
