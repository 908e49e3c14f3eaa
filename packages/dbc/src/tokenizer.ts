// Splits DBC text into tokens with their line and column; the parser reads them in order.
import { DBC_ERROR_CODE, DbcError } from './errors.ts'

export const TOKEN = {
  IDENTIFIER: 0,
  NUMBER: 1,
  STRING: 2,
  PUNCT: 3,
  END: 4,
} as const
export type TokenKind = (typeof TOKEN)[keyof typeof TOKEN]

export interface Token {
  kind: TokenKind
  /** identifier name, number text as written, string contents unescaped, or the punctuation */
  text: string
  line: number
  column: number
  /** no token before it on its line */
  firstOnLine: boolean
}

const PUNCTUATION = new Set([':', ';', ',', '|', '@', '+', '-', '(', ')', '[', ']'])
const ALL_DIGITS = /^\d+$/

export function describeToken(token: Token): string {
  switch (token.kind) {
    case TOKEN.END:
      return 'the end of the file'
    case TOKEN.STRING:
      return `string "${token.text.length > 30 ? `${token.text.slice(0, 30)}…` : token.text}"`
    case TOKEN.NUMBER:
      return `number ${token.text}`
    case TOKEN.IDENTIFIER:
      return `'${token.text}'`
    default:
      return `'${token.text}'`
  }
}

export function tokenize(text: string): Token[] {
  // Sticky expressions keep a position (lastIndex): one set per call.
  const NUMBER = /[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y
  const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*/y
  const WORD = /[A-Za-z0-9_]+/y
  const tokens: Token[] = []
  let line = 1
  let lineStart = 0
  let lastTokenLine = 0
  let i = 0
  const n = text.length
  const push = (kind: TokenKind, value: string, start: number) => {
    tokens.push({
      kind,
      text: value,
      line,
      column: start - lineStart + 1,
      firstOnLine: lastTokenLine !== line,
    })
    lastTokenLine = line
  }
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === 10) {
      line++
      i++
      lineStart = i
      continue
    }
    if (c === 32 || c === 9 || c === 13 || c === 12 || c === 11 || c === 0xfeff) {
      i++
      continue
    }
    if (c === 47 && text.charCodeAt(i + 1) === 47) {
      // a `//` comment (some hand-written files have them) runs to the end of the line
      while (i < n && text.charCodeAt(i) !== 10) i++
      continue
    }
    const ch = text[i]!
    if (c === 34) {
      const startLine = line
      const startColumn = i - lineStart + 1
      let value = ''
      let segment = i + 1
      i++
      for (;;) {
        if (i >= n) {
          throw new DbcError(DBC_ERROR_CODE.SYNTAX, "string not closed: expected '\"'", {
            line: startLine,
            column: startColumn,
            expected: '"',
            found: 'the end of the file',
          })
        }
        const d = text.charCodeAt(i)
        if (d === 92 && text.charCodeAt(i + 1) === 34) {
          // a quote inside a string is written \"; any other backslash is itself (as cantools reads it)
          value += text.slice(segment, i)
          value += '"'
          i += 2
          segment = i
          continue
        }
        if (d === 34) break
        if (d === 10) {
          line++
          lineStart = i + 1
        }
        i++
      }
      value += text.slice(segment, i)
      i++
      tokens.push({
        kind: TOKEN.STRING,
        text: value,
        line: startLine,
        column: startColumn,
        firstOnLine: lastTokenLine !== startLine,
      })
      lastTokenLine = line
      continue
    }
    if ((c >= 48 && c <= 57) || c === 46 || ((c === 43 || c === 45) && startsNumber(text, i + 1))) {
      NUMBER.lastIndex = i
      const match = NUMBER.exec(text)
      if (match !== null) {
        const end = i + match[0].length
        // Names such as 2017_5 or 0_COUNTER occur in real files; cantools reads them as names.
        if (ALL_DIGITS.test(match[0]) && isWordCharacter(text.charCodeAt(end))) {
          WORD.lastIndex = i
          const word = WORD.exec(text)!
          push(TOKEN.IDENTIFIER, word[0], i)
          i += word[0].length
          continue
        }
        push(TOKEN.NUMBER, match[0], i)
        i = end
        continue
      }
    }
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95) {
      IDENTIFIER.lastIndex = i
      const match = IDENTIFIER.exec(text)!
      push(TOKEN.IDENTIFIER, match[0], i)
      i += match[0].length
      continue
    }
    if (PUNCTUATION.has(ch)) {
      push(TOKEN.PUNCT, ch, i)
      i++
      continue
    }
    throw new DbcError(
      DBC_ERROR_CODE.SYNTAX,
      `unexpected character ${JSON.stringify(ch)}: expected a name, a number, a string or one of : ; , | @ + - ( ) [ ]`,
      { line, column: i - lineStart + 1, expected: 'a token', found: ch },
    )
  }
  tokens.push({ kind: TOKEN.END, text: '', line, column: i - lineStart + 1, firstOnLine: true })
  return tokens
}

function startsNumber(text: string, i: number): boolean {
  const c = text.charCodeAt(i)
  return (c >= 48 && c <= 57) || (c === 46 && isDigit(text.charCodeAt(i + 1)))
}

function isWordCharacter(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}
