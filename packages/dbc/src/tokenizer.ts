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
const NUMBER = /[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y
const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*/y

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
        if (d === 92 && i + 1 < n) {
          // Vector writes a quote inside a comment as \" and a backslash as \\
          value += text.slice(segment, i)
          value += text[i + 1]
          if (text.charCodeAt(i + 1) === 10) {
            line++
            lineStart = i + 2
          }
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

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}
