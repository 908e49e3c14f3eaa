import { describe, expect, it } from 'vitest'
import { FLEET_ERROR, FleetError } from '../src/errors.ts'
import { FleetSubjects, nameOfToken, subjectToken } from '../src/subjects.ts'

describe('subject tokens', () => {
  it.each([
    ['pi-garage', 'pi-garage'],
    ['pi.garage', 'pi_2Egarage'],
    ['veh 7>*', 'veh_207_3E_2A'],
    ['under_score', 'under_5Fscore'],
    ['größe', 'gr_C3_B6_C3_9Fe'],
  ])('%s becomes %s and back', (name, token) => {
    expect(subjectToken(name)).toBe(token)
    expect(nameOfToken(token)).toBe(name)
    // a NATS token: no dot, no wildcard, no white space
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/)
  })

  it('refuses empty and overlong names, and tokens it could not have made', () => {
    for (const bad of ['', 'x'.repeat(129)]) {
      expect(() => subjectToken(bad)).toThrow(FleetError)
    }
    expect(() => nameOfToken('a_ZZ')).toThrow(/bad escape/)
    expect(() => nameOfToken('a.b')).toThrow(/unescaped/)
    try {
      subjectToken('')
    } catch (error) {
      expect((error as FleetError).code).toBe(FLEET_ERROR.BAD_NAME)
    }
  })

  it('builds and parses subjects under a prefix', () => {
    const subjects = new FleetSubjects('fleet.a')
    const raw = subjects.raw('pi.1', 'can0')
    expect(raw).toBe('fleet.a.raw.pi_2E1.can0')
    expect(subjects.parse(raw)).toEqual({ kind: 'raw', edgeId: 'pi.1', channel: 'can0' })
    expect(subjects.parse('other.raw.x.y')).toBeUndefined()
    expect(subjects.stored()).toEqual(['fleet.a.*.*.*'])
    expect(() => new FleetSubjects('bad prefix')).toThrow(FleetError)
  })
})
