// Writes DBC text from a compact description, in the layout Vector's CANdb++ writes (which
// line-based readers such as canmatrix expect): for generated test databases.
export interface SignalSpec {
  name: string
  startBit: number
  length: number
  byteOrder: 'little_endian' | 'big_endian'
  isSigned: boolean
  valueType?: 'integer' | 'float32' | 'float64'
  factor?: number
  offset?: number
  minimum?: number
  maximum?: number
  unit?: string
  /** `M` (multiplexer), a number n (`m<n>`), or n with `M` (`m<n>M`) */
  multiplex?: 'M' | number | { value: number; multiplexer: true }
  /** SG_MUL_VAL_ */
  extendedMultiplexing?: { multiplexer: string; ranges: [number, number][] }
  choices?: [number, string][]
  comment?: string
}

export interface MessageSpec {
  id: number
  isExtendedId: boolean
  name: string
  length: number
  sender?: string
  signals: SignalSpec[]
  cycleTimeMs?: number
  fd?: boolean
  comment?: string
}

export function dbcId(message: Pick<MessageSpec, 'id' | 'isExtendedId'>): number {
  return message.isExtendedId ? message.id + 0x8000_0000 : message.id
}

export function writeDbc(
  messages: readonly MessageSpec[],
  nodes: readonly string[] = ['ECU'],
): string {
  const out: string[] = [
    'VERSION ""',
    '',
    'NS_ :',
    '\tCM_',
    '\tBA_DEF_',
    '\tBA_',
    '\tVAL_',
    '\tSIG_VALTYPE_',
    '',
    'BS_:',
    '',
    `BU_: ${nodes.join(' ')}`,
    '',
  ]
  for (const message of messages) {
    out.push(`BO_ ${dbcId(message)} ${message.name}: ${message.length} ${message.sender ?? 'ECU'}`)
    for (const s of message.signals) {
      let indicator = ''
      if (s.multiplex === 'M') indicator = ' M'
      else if (typeof s.multiplex === 'number') indicator = ` m${s.multiplex}`
      else if (s.multiplex !== undefined) indicator = ` m${s.multiplex.value}M`
      out.push(
        ` SG_ ${s.name}${indicator} : ${s.startBit}|${s.length}@${s.byteOrder === 'little_endian' ? 1 : 0}${s.isSigned ? '-' : '+'} (${s.factor ?? 1},${s.offset ?? 0}) [${s.minimum ?? 0}|${s.maximum ?? 0}] "${s.unit ?? ''}" Vector__XXX`,
      )
    }
    out.push('')
  }
  for (const message of messages) {
    if (message.comment !== undefined) out.push(`CM_ BO_ ${dbcId(message)} "${message.comment}";`)
    for (const s of message.signals) {
      if (s.comment !== undefined) out.push(`CM_ SG_ ${dbcId(message)} ${s.name} "${s.comment}";`)
    }
  }
  out.push('BA_DEF_ BO_ "GenMsgCycleTime" INT 0 65535;')
  out.push(
    'BA_DEF_ BO_ "VFrameFormat" ENUM "StandardCAN","ExtendedCAN","reserved","reserved","reserved","reserved","reserved","reserved","reserved","reserved","reserved","reserved","reserved","reserved","StandardCAN_FD","ExtendedCAN_FD";',
  )
  out.push('BA_DEF_DEF_ "GenMsgCycleTime" 0;')
  out.push('BA_DEF_DEF_ "VFrameFormat" "StandardCAN";')
  for (const message of messages) {
    if (message.cycleTimeMs !== undefined) {
      out.push(`BA_ "GenMsgCycleTime" BO_ ${dbcId(message)} ${message.cycleTimeMs};`)
    }
    const format = (message.isExtendedId ? 1 : 0) + (message.fd ? 14 : 0)
    if (format !== 0) out.push(`BA_ "VFrameFormat" BO_ ${dbcId(message)} ${format};`)
  }
  for (const message of messages) {
    for (const s of message.signals) {
      if (s.choices === undefined) continue
      out.push(
        `VAL_ ${dbcId(message)} ${s.name} ${s.choices.map(([v, n]) => `${v} "${n}"`).join(' ')} ;`,
      )
    }
  }
  for (const message of messages) {
    for (const s of message.signals) {
      if (s.valueType === 'float32') out.push(`SIG_VALTYPE_ ${dbcId(message)} ${s.name} : 1;`)
      if (s.valueType === 'float64') out.push(`SIG_VALTYPE_ ${dbcId(message)} ${s.name} : 2;`)
    }
  }
  for (const message of messages) {
    for (const s of message.signals) {
      const x = s.extendedMultiplexing
      if (x === undefined) continue
      out.push(
        `SG_MUL_VAL_ ${dbcId(message)} ${s.name} ${x.multiplexer} ${x.ranges.map(([a, b]) => `${a}-${b}`).join(', ')};`,
      )
    }
  }
  return `${out.join('\n')}\n`
}
