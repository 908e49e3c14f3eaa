// DBC text → plain definitions, as Vector's tools and cantools read it. Statements that only
// refer to others (CM_, BA_, VAL_, SIG_VALTYPE_, SG_MUL_VAL_, BO_TX_BU_) are applied after
// the whole file is read, so their order in the file does not matter.
import { signalEndByte } from './bit-layout.ts'
import { DBC_ERROR_CODE, DbcError, type DbcErrorCode } from './errors.ts'
import type {
  AttributeDefinition,
  AttributeObjectType,
  AttributeValue,
  ByteOrder,
  DbcWarning,
  MessageDefinition,
  MultiplexerRange,
  NodeDefinition,
  SignalDefinition,
  ValueType,
} from './model.ts'
import { describeToken, TOKEN, type Token, tokenize } from './tokenizer.ts'

export interface ParsedDbc {
  version: string
  comment: string | undefined
  nodes: NodeDefinition[]
  messages: MessageDefinition[]
  valueTables: Map<string, ReadonlyMap<number, string>>
  attributeDefinitions: AttributeDefinition[]
  /** network attributes: explicit values, then defaults */
  attributes: Map<string, AttributeValue>
  warnings: DbcWarning[]
}

/** The DBC id flag for a 29-bit identifier. */
const EXTENDED_FLAG = 0x8000_0000
const MAX_EXTENDED_ID = 0x1fff_ffff
const MAX_STANDARD_ID = 0x7ff
/** Vector's pseudo-message holding signals not assigned to any message. */
const INDEPENDENT_SIGNALS_ID = 0xc000_0000
const INDEPENDENT_SIGNALS_NAME = 'VECTOR__INDEPENDENT_SIG_MSG'
/** J1939's transport protocol carries up to 1785 bytes; classic CAN 8, CAN FD 64. */
const MAX_MESSAGE_LENGTH = 1785
const NO_NODE = 'Vector__XXX'
/** Far beyond any real file; keeps the compiled decoder's nesting (and recursion) bounded. */
const MAX_MULTIPLEXER_DEPTH = 32

/** Statements we read past without keeping: each ends with ';'. */
const SKIPPED = new Set([
  'EV_',
  'ENVVAR_DATA_',
  'SGTYPE_',
  'SGTYPE_VAL_',
  'SIG_GROUP_',
  'SIG_TYPE_REF_',
  'SIGTYPE_VALTYPE_',
  'BA_DEF_REL_',
  'BA_DEF_DEF_REL_',
  'BA_REL_',
  'BA_DEF_SGTYPE_',
  'BA_SGTYPE_',
  'BU_SG_REL_',
  'BU_EV_REL_',
  'BU_BO_REL_',
  'CAT_DEF_',
  'CAT_',
  'FILTER',
  'EV_DATA_',
  'NS_DESC_',
])
const KEYWORDS = new Set([
  ...SKIPPED,
  'VERSION',
  'NS_',
  'BS_',
  'BU_',
  'BO_',
  'SG_',
  'CM_',
  'BA_DEF_',
  'BA_DEF_DEF_',
  'BA_',
  'VAL_',
  'VAL_TABLE_',
  'SIG_VALTYPE_',
  'SG_MUL_VAL_',
  'BO_TX_BU_',
])
const MULTIPLEX_INDICATOR = /^(?:M|m(\d+)(M?))$/

interface SignalDraft {
  name: string
  startBit: number
  length: number
  byteOrder: ByteOrder
  isSigned: boolean
  valueType: ValueType
  factor: number
  offset: number
  minimum: number | undefined
  maximum: number | undefined
  unit: string
  receivers: string[]
  comment: string | undefined
  choices: Map<number, string> | undefined
  isMultiplexer: boolean
  /** the `n` of `m<n>` */
  multiplexValue: number | undefined
  extendedMultiplexing: { multiplexer: string; ranges: MultiplexerRange[]; at: Token } | undefined
  attributes: Map<string, AttributeValue>
  at: Token
}

interface MessageDraft {
  id: number
  isExtendedId: boolean
  name: string
  length: number
  senders: string[]
  signals: SignalDraft[]
  signalByName: Map<string, SignalDraft>
  comment: string | undefined
  attributes: Map<string, AttributeValue>
  at: Token
}

interface NodeDraft {
  name: string
  comment: string | undefined
  attributes: Map<string, AttributeValue>
}

export interface ParseOptions {
  /**
   * A signal reaching past its message's length is an error (default true, as in cantools);
   * false keeps it in the definitions as a warning and never decodes or encodes it.
   */
  strict?: boolean | undefined
}

/** Parses DBC text. Throws DbcError (with line and column) for a malformed file. */
export function parseDbcText(text: string, options: ParseOptions = {}): ParsedDbc {
  return new DbcParser(tokenize(text), options.strict !== false).parse()
}

class DbcParser {
  readonly #tokens: Token[]
  #pos = 0
  #version = ''
  #comment: string | undefined
  readonly #nodes = new Map<string, NodeDraft>()
  readonly #messages: MessageDraft[] = []
  readonly #messageByKey = new Map<number, MessageDraft>()
  readonly #messageNames = new Set<string>()
  readonly #valueTables = new Map<string, ReadonlyMap<number, string>>()
  readonly #definitions = new Map<string, AttributeDefinition>()
  readonly #networkAttributes = new Map<string, AttributeValue>()
  readonly #warnings: DbcWarning[] = []
  /** statements that refer to messages, signals or attribute definitions, applied at the end */
  readonly #deferred: (() => void)[] = []

  readonly #strict: boolean

  constructor(tokens: Token[], strict: boolean) {
    this.#tokens = tokens
    this.#strict = strict
  }

  parse(): ParsedDbc {
    for (;;) {
      const token = this.#peek()
      if (token.kind === TOKEN.END) break
      if (token.kind !== TOKEN.IDENTIFIER || !KEYWORDS.has(token.text)) {
        this.#fail(token, 'a DBC keyword (BO_, SG_, CM_, BA_, VAL_, …)')
      }
      this.#pos++
      this.#statement(token)
    }
    for (const apply of this.#deferred) apply()
    return this.#finish()
  }

  #statement(keyword: Token): void {
    switch (keyword.text) {
      case 'VERSION':
        this.#version = this.#string('the version string')
        return
      case 'NS_':
        this.#newSymbols(keyword)
        return
      case 'BS_':
        this.#busSpeed()
        return
      case 'BU_':
        this.#nodeList()
        return
      case 'VAL_TABLE_':
        this.#valueTable()
        return
      case 'BO_':
        this.#message(keyword)
        return
      case 'SG_':
        this.#fail(keyword, "'BO_' before the signal (an SG_ belongs to a message)")
        return
      case 'BO_TX_BU_':
        this.#transmitters()
        return
      case 'CM_':
        this.#commentStatement()
        return
      case 'BA_DEF_':
        this.#attributeDefinition()
        return
      case 'BA_DEF_DEF_':
        this.#attributeDefault()
        return
      case 'BA_':
        this.#attributeValue()
        return
      case 'VAL_':
        this.#choices()
        return
      case 'SIG_VALTYPE_':
        this.#signalValueType()
        return
      case 'SG_MUL_VAL_':
        this.#extendedMultiplexing()
        return
      default:
        this.#skipStatement()
        return
    }
  }

  // ---- sections ----

  #newSymbols(keyword: Token): void {
    this.#optionalPunct(':')
    // The symbol list is indented under NS_; the first line starting at column 1 ends it.
    for (;;) {
      const token = this.#peek()
      if (token.kind !== TOKEN.IDENTIFIER || token.text === 'BS_' || token.text === 'BU_') return
      if (token.firstOnLine && token.column === 1 && token.line !== keyword.line) return
      this.#pos++
    }
  }

  #busSpeed(): void {
    this.#punct(':')
    if (this.#peek().kind !== TOKEN.NUMBER) return
    this.#number('the baud rate')
    if (this.#optionalPunct(':')) {
      this.#number('BTR1')
      this.#punct(',')
      this.#number('BTR2')
    }
  }

  #nodeList(): void {
    this.#punct(':')
    for (;;) {
      const token = this.#peek()
      if (token.kind !== TOKEN.IDENTIFIER || KEYWORDS.has(token.text)) return
      this.#pos++
      if (this.#nodes.has(token.text)) {
        this.#warn(token, `node ${token.text} is listed twice in BU_`)
        continue
      }
      this.#nodes.set(token.text, { name: token.text, comment: undefined, attributes: new Map() })
    }
  }

  #valueTable(): void {
    const name = this.#identifier('the value table name')
    this.#valueTables.set(name.text, this.#valuePairs())
  }

  #message(keyword: Token): void {
    const idToken = this.#peek()
    const dbcId = this.#integer('the message id', 0, 0xffff_ffff)
    const name = this.#identifier('the message name')
    this.#punct(':')
    const length = this.#integer('the message length in bytes', 0, Number.MAX_SAFE_INTEGER)
    const senders: string[] = []
    const transmitter = this.#peek()
    if (transmitter.kind === TOKEN.IDENTIFIER && !KEYWORDS.has(transmitter.text)) {
      this.#pos++
      if (transmitter.text !== NO_NODE) senders.push(transmitter.text)
    }
    const message: MessageDraft = {
      id: 0,
      isExtendedId: false,
      name: name.text,
      length,
      senders,
      signals: [],
      signalByName: new Map(),
      comment: undefined,
      attributes: new Map(),
      at: name,
    }
    while (this.#peek().kind === TOKEN.IDENTIFIER && this.#peek().text === 'SG_') {
      this.#pos++
      this.#signal(message)
    }
    // not a frame on any bus (CANdb++ writes it with and without bit 31)
    if (dbcId === INDEPENDENT_SIGNALS_ID || name.text === INDEPENDENT_SIGNALS_NAME) return
    if (length > MAX_MESSAGE_LENGTH) {
      this.#invalid(keyword, `message ${name.text}: length ${length} is over ${MAX_MESSAGE_LENGTH}`)
    }
    if (dbcId >= EXTENDED_FLAG) {
      message.isExtendedId = true
      message.id = dbcId - EXTENDED_FLAG
      if (message.id > MAX_EXTENDED_ID) {
        this.#invalid(
          idToken,
          `message ${name.text}: id ${dbcId} is not an extended id (bit 31 set and at most 29 bits besides)`,
        )
      }
    } else if (dbcId > MAX_STANDARD_ID) {
      // Hand-written files sometimes leave out bit 31; cantools reads them as extended too.
      if (dbcId > MAX_EXTENDED_ID) {
        this.#invalid(idToken, `message ${name.text}: id ${dbcId} is too large for a CAN id`)
      }
      this.#warn(
        idToken,
        `message ${name.text}: id 0x${dbcId.toString(16)} is over 0x7FF without bit 31 set; taken as an extended id`,
      )
      message.isExtendedId = true
      message.id = dbcId
    } else {
      message.id = dbcId
    }
    for (const signal of message.signals) {
      const end = signalEndByte(signal.startBit, signal.length, signal.byteOrder)
      if (end > length) {
        const problem = `signal ${signal.name} (start bit ${signal.startBit}, length ${signal.length}, ${signal.byteOrder === 'big_endian' ? 'Motorola' : 'Intel'}) needs ${end} bytes but message ${name.text} has ${length}`
        if (this.#strict) this.#invalid(signal.at, problem)
        this.#warn(signal.at, `${problem}; it is never decoded`)
      }
    }
    const key = messageKey(message.id, message.isExtendedId)
    const other = this.#messageByKey.get(key)
    if (other !== undefined) {
      this.#error(
        DBC_ERROR_CODE.DUPLICATE,
        idToken,
        `message ${name.text} has the id of message ${other.name} (line ${other.at.line})`,
      )
    }
    if (this.#messageNames.has(name.text)) {
      this.#error(DBC_ERROR_CODE.DUPLICATE, name, `a second message named ${name.text}`)
    }
    this.#messageNames.add(name.text)
    this.#messageByKey.set(key, message)
    this.#messages.push(message)
  }

  #signal(message: MessageDraft): void {
    const name = this.#identifier('the signal name')
    let isMultiplexer = false
    let multiplexValue: number | undefined
    const indicator = this.#peek()
    if (indicator.kind === TOKEN.IDENTIFIER) {
      const match = MULTIPLEX_INDICATOR.exec(indicator.text)
      if (match === null) this.#fail(indicator, "':' or a multiplexer indicator (M, m<n>, m<n>M)")
      this.#pos++
      if (match![1] === undefined) {
        isMultiplexer = true
      } else {
        multiplexValue = Number(match![1])
        if (!Number.isSafeInteger(multiplexValue)) {
          this.#invalid(indicator, `multiplexer value ${match![1]} is too large`)
        }
        isMultiplexer = match![2] === 'M'
      }
    }
    this.#punct(':')
    const startBit = this.#integer('the start bit', 0, MAX_MESSAGE_LENGTH * 8 - 1)
    this.#punct('|')
    const lengthToken = this.#peek()
    const length = this.#integer('the signal length in bits', 0, Number.MAX_SAFE_INTEGER)
    if (length < 1 || length > 64) {
      this.#invalid(lengthToken, `signal ${name.text}: length ${length} bits (must be 1..64)`)
    }
    this.#punct('@')
    const orderToken = this.#next()
    if (orderToken.kind !== TOKEN.NUMBER || (orderToken.text !== '0' && orderToken.text !== '1')) {
      this.#fail(orderToken, "the byte order, '0' (Motorola) or '1' (Intel)")
    }
    const sign = this.#next()
    if (sign.kind !== TOKEN.PUNCT || (sign.text !== '+' && sign.text !== '-')) {
      this.#fail(sign, "'+' (unsigned) or '-' (signed)")
    }
    this.#punct('(')
    const factor = this.#number('the factor')
    this.#punct(',')
    const offset = this.#number('the offset')
    this.#punct(')')
    this.#punct('[')
    const minimum = this.#number('the minimum')
    this.#punct('|')
    const maximum = this.#number('the maximum')
    this.#punct(']')
    const unit = this.#string('the unit')
    const receivers: string[] = []
    for (;;) {
      const token = this.#peek()
      if (token.kind === TOKEN.PUNCT && token.text === ',') {
        this.#pos++
        continue
      }
      if (token.kind !== TOKEN.IDENTIFIER || KEYWORDS.has(token.text)) break
      this.#pos++
      if (token.text !== NO_NODE) receivers.push(token.text)
    }
    if (message.signalByName.has(name.text)) {
      this.#error(
        DBC_ERROR_CODE.DUPLICATE,
        name,
        `message ${message.name} has two signals named ${name.text}`,
      )
    }
    const signal: SignalDraft = {
      name: name.text,
      startBit,
      length,
      byteOrder: orderToken.text === '1' ? 'little_endian' : 'big_endian',
      isSigned: sign.text === '-',
      valueType: 'integer',
      factor,
      offset,
      // [0|0] is how a file says "no range"
      minimum: minimum === 0 && maximum === 0 ? undefined : minimum,
      maximum: minimum === 0 && maximum === 0 ? undefined : maximum,
      unit,
      receivers,
      comment: undefined,
      choices: undefined,
      isMultiplexer,
      multiplexValue,
      extendedMultiplexing: undefined,
      attributes: new Map(),
      at: name,
    }
    message.signals.push(signal)
    message.signalByName.set(signal.name, signal)
  }

  #transmitters(): void {
    const idToken = this.#peek()
    const dbcId = this.#integer('the message id', 0, 0xffff_ffff)
    this.#punct(':')
    const names: string[] = []
    for (;;) {
      const token = this.#peek()
      if (token.kind === TOKEN.PUNCT && token.text === ',') {
        this.#pos++
        continue
      }
      if (token.kind !== TOKEN.IDENTIFIER) break
      this.#pos++
      names.push(token.text)
    }
    this.#punct(';')
    this.#deferred.push(() => {
      const message = this.#messageFor(idToken, dbcId, 'BO_TX_BU_')
      if (message === undefined) return
      for (const node of names) if (!message.senders.includes(node)) message.senders.push(node)
    })
  }

  #commentStatement(): void {
    const token = this.#peek()
    if (token.kind === TOKEN.STRING) {
      this.#pos++
      this.#comment = token.text
      this.#punct(';')
      return
    }
    const kind = this.#identifier('a comment string or one of BU_, BO_, SG_, EV_')
    switch (kind.text) {
      case 'BU_': {
        const node = this.#identifier('the node name')
        const text = this.#string('the comment')
        this.#punct(';')
        this.#deferred.push(() => {
          const draft = this.#nodes.get(node.text)
          if (draft === undefined) this.#warn(node, `comment for unknown node ${node.text}`)
          else draft.comment = text
        })
        return
      }
      case 'BO_': {
        const idToken = this.#peek()
        const dbcId = this.#integer('the message id', 0, 0xffff_ffff)
        const text = this.#string('the comment')
        this.#punct(';')
        this.#deferred.push(() => {
          const message = this.#messageFor(idToken, dbcId, 'CM_')
          if (message !== undefined) message.comment = text
        })
        return
      }
      case 'SG_': {
        const idToken = this.#peek()
        const dbcId = this.#integer('the message id', 0, 0xffff_ffff)
        const name = this.#identifier('the signal name')
        const text = this.#string('the comment')
        this.#punct(';')
        this.#deferred.push(() => {
          const signal = this.#signalFor(idToken, dbcId, name, 'CM_')
          if (signal !== undefined) signal.comment = text
        })
        return
      }
      case 'EV_':
        this.#identifier('the environment variable name')
        this.#string('the comment')
        this.#punct(';')
        return
      default:
        this.#fail(kind, 'a comment string or one of BU_, BO_, SG_, EV_')
    }
  }

  #attributeDefinition(): void {
    let objectType: AttributeObjectType = 'network'
    const target = this.#peek()
    if (target.kind === TOKEN.IDENTIFIER) {
      const type = OBJECT_TYPES.get(target.text)
      if (type === undefined) this.#fail(target, 'the attribute name, or one of BU_, BO_, SG_, EV_')
      objectType = type!
      this.#pos++
    }
    const name = this.#string('the attribute name')
    const typeToken = this.#identifier('the attribute type (INT, HEX, FLOAT, STRING, ENUM)')
    const definition: AttributeDefinition = {
      name,
      objectType,
      type: 'STRING',
      minimum: undefined,
      maximum: undefined,
      enumValues: [],
      default: undefined,
    }
    switch (typeToken.text) {
      case 'INT':
      case 'HEX':
      case 'FLOAT':
        definition.type = typeToken.text
        if (this.#peek().kind === TOKEN.NUMBER) {
          definition.minimum = this.#number('the minimum')
          definition.maximum = this.#number('the maximum')
        }
        break
      case 'STRING':
        break
      case 'ENUM': {
        definition.type = 'ENUM'
        const values: string[] = []
        while (this.#peek().kind === TOKEN.STRING) {
          values.push(this.#next().text)
          if (!this.#optionalPunct(',')) break
        }
        definition.enumValues = values
        break
      }
      default:
        this.#fail(typeToken, 'the attribute type (INT, HEX, FLOAT, STRING, ENUM)')
    }
    this.#punct(';')
    this.#definitions.set(name, definition)
  }

  #attributeDefault(): void {
    const nameToken = this.#peek()
    const name = this.#string('the attribute name')
    const value = this.#attributeLiteral()
    this.#punct(';')
    this.#deferred.push(() => {
      const definition = this.#definitions.get(name)
      if (definition === undefined) {
        this.#warn(nameToken, `default for attribute ${name}, which BA_DEF_ does not define`)
        return
      }
      definition.default = this.#resolveAttribute(definition, value)
    })
  }

  #attributeValue(): void {
    const nameToken = this.#peek()
    const name = this.#string('the attribute name')
    const target = this.#peek()
    let apply: (value: AttributeValue) => void
    if (target.kind === TOKEN.IDENTIFIER && OBJECT_TYPES.has(target.text)) {
      this.#pos++
      switch (target.text) {
        case 'BU_': {
          const node = this.#identifier('the node name')
          apply = (value) => {
            const draft = this.#nodes.get(node.text)
            if (draft === undefined)
              this.#warn(node, `attribute ${name} for unknown node ${node.text}`)
            else draft.attributes.set(name, value)
          }
          break
        }
        case 'BO_': {
          const idToken = this.#peek()
          const dbcId = this.#integer('the message id', 0, 0xffff_ffff)
          apply = (value) => this.#messageFor(idToken, dbcId, 'BA_')?.attributes.set(name, value)
          break
        }
        case 'SG_': {
          const idToken = this.#peek()
          const dbcId = this.#integer('the message id', 0, 0xffff_ffff)
          const signal = this.#identifier('the signal name')
          apply = (value) =>
            this.#signalFor(idToken, dbcId, signal, 'BA_')?.attributes.set(name, value)
          break
        }
        default:
          this.#identifier('the environment variable name')
          apply = () => {}
      }
    } else {
      apply = (value) => this.#networkAttributes.set(name, value)
    }
    const value = this.#attributeLiteral()
    this.#punct(';')
    this.#deferred.push(() => {
      const definition = this.#definitions.get(name)
      if (definition === undefined) {
        this.#warn(nameToken, `value for attribute ${name}, which BA_DEF_ does not define`)
        apply(value)
        return
      }
      apply(this.#resolveAttribute(definition, value))
    })
  }

  #choices(): void {
    const first = this.#peek()
    if (first.kind === TOKEN.IDENTIFIER) {
      // VAL_ of an environment variable: nothing to decode with it
      this.#pos++
      this.#valuePairs()
      return
    }
    const dbcId = this.#integer('the message id or an environment variable name', 0, 0xffff_ffff)
    const name = this.#identifier('the signal name')
    const pairs = this.#valuePairs()
    this.#deferred.push(() => {
      const signal = this.#signalFor(first, dbcId, name, 'VAL_')
      if (signal !== undefined) signal.choices = pairs
    })
  }

  #signalValueType(): void {
    const idToken = this.#peek()
    const dbcId = this.#integer('the message id', 0, 0xffff_ffff)
    const name = this.#identifier('the signal name')
    this.#optionalPunct(':')
    const typeToken = this.#peek()
    const code = this.#integer('the value type (0 integer, 1 float, 2 double)', 0, 2)
    this.#punct(';')
    this.#deferred.push(() => {
      const signal = this.#signalFor(idToken, dbcId, name, 'SIG_VALTYPE_')
      if (signal === undefined) return
      signal.valueType = code === 0 ? 'integer' : code === 1 ? 'float32' : 'float64'
      const bits = code === 1 ? 32 : 64
      if (code !== 0 && signal.length !== bits) {
        this.#invalid(
          typeToken,
          `signal ${signal.name} is declared ${signal.valueType} but is ${signal.length} bits long, not ${bits}`,
        )
      }
    })
  }

  #extendedMultiplexing(): void {
    const idToken = this.#peek()
    const dbcId = this.#integer('the message id', 0, 0xffff_ffff)
    const name = this.#identifier('the signal name')
    const multiplexer = this.#identifier('the multiplexer signal name')
    const ranges: MultiplexerRange[] = []
    for (;;) {
      const lowToken = this.#peek()
      const low = this.#integer('a multiplexer value range (low-high)', 0, Number.MAX_SAFE_INTEGER)
      // The tokenizer reads "2-3" as 2 and -3.
      let high: number
      const dash = this.#peek()
      if (dash.kind === TOKEN.NUMBER && dash.text.startsWith('-')) {
        this.#pos++
        high = -Number(dash.text)
        if (!Number.isSafeInteger(high)) this.#fail(dash, 'an integer upper bound of the range')
      } else {
        this.#punct('-')
        high = this.#integer('the upper bound of the range', 0, Number.MAX_SAFE_INTEGER)
      }
      if (high < low) this.#invalid(lowToken, `multiplexer range ${low}-${high} is empty`)
      ranges.push([low, high])
      if (!this.#optionalPunct(',')) break
    }
    this.#punct(';')
    this.#deferred.push(() => {
      const signal = this.#signalFor(idToken, dbcId, name, 'SG_MUL_VAL_')
      if (signal === undefined) return
      const previous = signal.extendedMultiplexing
      if (previous !== undefined && previous.multiplexer === multiplexer.text) {
        previous.ranges.push(...ranges)
        return
      }
      signal.extendedMultiplexing = { multiplexer: multiplexer.text, ranges, at: multiplexer }
    })
  }

  #skipStatement(): void {
    for (;;) {
      const token = this.#next()
      if (token.kind === TOKEN.PUNCT && token.text === ';') return
      if (token.kind === TOKEN.END) this.#fail(token, "';' to end the statement")
    }
  }

  // ---- the end: resolve multiplexing and attribute defaults ----

  #finish(): ParsedDbc {
    const definitions = [...this.#definitions.values()]
    const messages = this.#messages.map((message) => this.#finishMessage(message, definitions))
    const nodes = [...this.#nodes.values()].map(
      (node): NodeDefinition => ({
        name: longSymbol(node.attributes, 'SystemNodeLongSymbol') ?? node.name,
        comment: node.comment,
        attributes: withDefaults(node.attributes, definitions, 'node'),
      }),
    )
    return {
      version: this.#version,
      comment: this.#comment,
      nodes,
      messages,
      valueTables: this.#valueTables,
      attributeDefinitions: definitions,
      attributes: withDefaults(this.#networkAttributes, definitions, 'network'),
      warnings: this.#warnings,
    }
  }

  #finishMessage(message: MessageDraft, definitions: AttributeDefinition[]): MessageDefinition {
    const topMultiplexers = message.signals.filter(
      (s) =>
        s.isMultiplexer && s.multiplexValue === undefined && s.extendedMultiplexing === undefined,
    )
    // CANdb++ cuts names at 32 characters and keeps the whole name in an attribute.
    const longName = (signal: SignalDraft) =>
      longSymbol(signal.attributes, 'SystemSignalLongSymbol') ?? signal.name
    const renamed = new Map(message.signals.map((s) => [s.name, longName(s)]))
    const signals = message.signals.map((signal): SignalDefinition => {
      let multiplexing: SignalDefinition['multiplexing']
      if (signal.extendedMultiplexing !== undefined) {
        const { multiplexer, ranges, at } = signal.extendedMultiplexing
        const selector = message.signalByName.get(multiplexer)
        if (selector === undefined || !selector.isMultiplexer) {
          this.#invalid(
            at,
            `SG_MUL_VAL_: ${multiplexer} is not a multiplexer signal (M or m<n>M) of message ${message.name}`,
          )
        }
        multiplexing = { multiplexer: renamed.get(multiplexer)!, ranges }
      } else if (signal.multiplexValue !== undefined) {
        const selector = topMultiplexers[0]
        if (selector === undefined) {
          this.#invalid(
            signal.at,
            `signal ${signal.name} is multiplexed (m${signal.multiplexValue}) but message ${message.name} has no multiplexer signal (M)`,
          )
        }
        if (topMultiplexers.length > 1) {
          this.#warn(
            signal.at,
            `message ${message.name} has several M signals; ${signal.name} is taken to follow ${selector!.name}`,
          )
        }
        multiplexing = {
          multiplexer: renamed.get(selector!.name)!,
          ranges: [[signal.multiplexValue, signal.multiplexValue]],
        }
      }
      if (signal.isMultiplexer && signal.valueType !== 'integer') {
        this.#invalid(
          signal.at,
          `multiplexer signal ${signal.name} must be an integer, not ${signal.valueType}`,
        )
      }
      return {
        name: renamed.get(signal.name)!,
        startBit: signal.startBit,
        length: signal.length,
        byteOrder: signal.byteOrder,
        isSigned: signal.isSigned,
        valueType: signal.valueType,
        factor: signal.factor,
        offset: signal.offset,
        minimum: signal.minimum,
        maximum: signal.maximum,
        unit: signal.unit,
        receivers: signal.receivers,
        comment: signal.comment,
        choices: signal.choices,
        isMultiplexer: signal.isMultiplexer,
        multiplexing,
        attributes: withDefaults(signal.attributes, definitions, 'signal'),
        line: signal.at.line,
      }
    })
    this.#checkMultiplexerCycles(message, signals)
    const attributes = withDefaults(message.attributes, definitions, 'message')
    const cycle = attributes.get('GenMsgCycleTime')
    const frameFormat = attributes.get('VFrameFormat')
    return {
      id: message.id,
      isExtendedId: message.isExtendedId,
      name: longSymbol(message.attributes, 'SystemMessageLongSymbol') ?? message.name,
      length: message.length,
      senders: message.senders,
      signals,
      comment: message.comment,
      attributes,
      cycleTimeMs: typeof cycle === 'number' && cycle > 0 ? cycle : undefined,
      isFd: message.length > 8 || (typeof frameFormat === 'string' && frameFormat.endsWith('_FD')),
      line: message.at.line,
    }
  }

  /** A signal must not select itself, directly or through others. */
  #checkMultiplexerCycles(message: MessageDraft, signals: SignalDefinition[]): void {
    const byName = new Map(signals.map((s) => [s.name, s]))
    if (byName.size !== signals.length) {
      const names = signals.map((s) => s.name)
      const twice = signals.findIndex((s, i) => names.indexOf(s.name) !== i)
      this.#error(
        DBC_ERROR_CODE.DUPLICATE,
        message.signals[twice]!.at,
        `message ${message.name} has two signals named ${signals[twice]!.name} (after SystemSignalLongSymbol)`,
      )
    }
    for (const [index, signal] of signals.entries()) {
      const seen = new Set<string>([signal.name])
      let current = signal.multiplexing?.multiplexer
      while (current !== undefined) {
        if (seen.has(current)) {
          this.#invalid(
            message.signals[index]!.at,
            `multiplexing of signal ${signal.name} in message ${message.name} goes round in a circle through ${current}`,
          )
        }
        seen.add(current)
        if (seen.size > MAX_MULTIPLEXER_DEPTH) {
          this.#invalid(
            message.signals[index]!.at,
            `multiplexing of signal ${signal.name} in message ${message.name} is nested deeper than ${MAX_MULTIPLEXER_DEPTH} levels`,
          )
        }
        current = byName.get(current)?.multiplexing?.multiplexer
      }
    }
  }

  #resolveAttribute(definition: AttributeDefinition, value: AttributeValue): AttributeValue {
    if (definition.type === 'ENUM' && typeof value === 'number') {
      // BA_ gives an ENUM as its index; keep the name, as CANdb++ shows it.
      return definition.enumValues[value] ?? value
    }
    return value
  }

  // ---- references ----

  #messageFor(at: Token, dbcId: number, statement: string): MessageDraft | undefined {
    const extended = dbcId >= EXTENDED_FLAG || dbcId > MAX_STANDARD_ID
    const message = this.#messageByKey.get(
      messageKey(dbcId >= EXTENDED_FLAG ? dbcId - EXTENDED_FLAG : dbcId, extended),
    )
    if (message === undefined && dbcId !== INDEPENDENT_SIGNALS_ID) {
      this.#warn(at, `${statement} refers to message id ${dbcId}, which no BO_ defines`)
    }
    return message
  }

  #signalFor(at: Token, dbcId: number, name: Token, statement: string): SignalDraft | undefined {
    const message = this.#messageFor(at, dbcId, statement)
    if (message === undefined) return undefined
    const signal = message.signalByName.get(name.text)
    if (signal === undefined) {
      this.#warn(
        name,
        `${statement} refers to signal ${name.text}, which message ${message.name} does not have`,
      )
    }
    return signal
  }

  // ---- tokens ----

  #valuePairs(): Map<number, string> {
    const pairs = new Map<number, string>()
    for (;;) {
      const token = this.#peek()
      if (token.kind === TOKEN.PUNCT && token.text === ';') {
        this.#pos++
        return pairs
      }
      if (token.kind === TOKEN.END) {
        // a last list left open by the file's end: cantools takes it, and so do we
        this.#warn(token, "the file ends before the list's ';'")
        return pairs
      }
      const value = this.#number("a value, or ';' to end the list")
      pairs.set(value, this.#string('the name of the value'))
    }
  }

  #attributeLiteral(): AttributeValue {
    const token = this.#next()
    if (token.kind === TOKEN.NUMBER) return Number(token.text)
    if (token.kind === TOKEN.STRING) return token.text
    return this.#fail(token, 'the attribute value (a number or a string)')
  }

  #peek(): Token {
    return this.#tokens[this.#pos]!
  }

  #next(): Token {
    const token = this.#tokens[this.#pos]!
    if (token.kind !== TOKEN.END) this.#pos++
    return token
  }

  #punct(text: string): void {
    const token = this.#next()
    if (token.kind !== TOKEN.PUNCT || token.text !== text) this.#fail(token, `'${text}'`)
  }

  #optionalPunct(text: string): boolean {
    const token = this.#peek()
    if (token.kind !== TOKEN.PUNCT || token.text !== text) return false
    this.#pos++
    return true
  }

  #identifier(what: string): Token {
    const token = this.#next()
    if (token.kind !== TOKEN.IDENTIFIER) this.#fail(token, what)
    return token
  }

  #string(what: string): string {
    const token = this.#next()
    if (token.kind !== TOKEN.STRING) this.#fail(token, `${what} (a "quoted string")`)
    return token.text
  }

  #number(what: string): number {
    const token = this.#next()
    if (token.kind !== TOKEN.NUMBER) this.#fail(token, `${what} (a number)`)
    const value = Number(token.text)
    if (!Number.isFinite(value))
      this.#invalid(token, `${what}: ${token.text} is not a finite number`)
    return value
  }

  #integer(what: string, min: number, max: number): number {
    const token = this.#next()
    if (token.kind !== TOKEN.NUMBER) this.#fail(token, `${what} (an integer)`)
    const value = Number(token.text)
    if (!Number.isInteger(value) || value < min || value > max) {
      this.#invalid(token, `${what}: ${token.text} is not an integer in ${min}..${max}`)
    }
    return value
  }

  #warn(at: Token, message: string): void {
    this.#warnings.push({ line: at.line, column: at.column, message })
  }

  #fail(at: Token, expected: string): never {
    const found = describeToken(at)
    throw new DbcError(DBC_ERROR_CODE.SYNTAX, `expected ${expected}, found ${found}`, {
      line: at.line,
      column: at.column,
      expected,
      found,
    })
  }

  #invalid(at: Token, message: string): never {
    return this.#error(DBC_ERROR_CODE.INVALID_DEFINITION, at, message)
  }

  #error(code: DbcErrorCode, at: Token, message: string): never {
    throw new DbcError(code, message, { line: at.line, column: at.column })
  }
}

const OBJECT_TYPES: ReadonlyMap<string, AttributeObjectType> = new Map([
  ['BU_', 'node'],
  ['BO_', 'message'],
  ['SG_', 'signal'],
  ['EV_', 'envvar'],
])

/** One map key for both id spaces: extended ids sit above every standard id. */
export function messageKey(id: number, isExtendedId: boolean): number {
  return isExtendedId ? id + 0x1_0000_0000 : id
}

function longSymbol(attributes: Map<string, AttributeValue>, name: string): string | undefined {
  const value = attributes.get(name)
  return typeof value === 'string' && value !== '' ? value : undefined
}

function withDefaults(
  explicit: Map<string, AttributeValue>,
  definitions: AttributeDefinition[],
  objectType: AttributeObjectType,
): Map<string, AttributeValue> {
  const attributes = new Map(explicit)
  for (const definition of definitions) {
    if (definition.objectType !== objectType || attributes.has(definition.name)) continue
    if (definition.default !== undefined) attributes.set(definition.name, definition.default)
  }
  return attributes
}
