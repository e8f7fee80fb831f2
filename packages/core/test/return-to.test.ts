import { describe, expect, it } from 'vitest'
import { safeReturnTo } from '../src/return-to.js'

describe('returnTo', () => {
  it.each([
    ['/me', '/me'],
    ['/a/b?c=d#e', '/a/b?c=d#e'],
    ['//evil.example', '/'],
    ['https://evil.example', '/'],
    ['/\\evil.example', '/'],
    ['\\/evil.example', '/'],
    ['/%5C%5Cevil.example', '/%5C%5Cevil.example'],
    ['/\t/evil.example', '/'],
    ['https:evil.example', '/'],
    ['HTTPS://evil.example', '/'],
    ['javascript:alert(1)', '/'],
    ['data:text/html,x', '/'],
    ['/%252F%252Fevil.example', '/%252F%252Fevil.example'],
    ['/' + 'a'.repeat(8192), '/'],
  ])('%j → %j', (input, expected) => {
    expect(safeReturnTo(input)).toBe(expected)
  })
})
