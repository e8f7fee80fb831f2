import { describe, expect, it } from 'vitest'
import { createCookieCodec } from '../../src/session/cookie-codec.js'

const OLD = 'o'.repeat(32)
const NEW = 'n'.repeat(32)

describe('cookie codec', () => {
  it('round-trips and binds the cookie name', () => {
    const codec = createCookieCodec([NEW])
    const sealed = codec.seal('codegrant.session', 'hello')
    expect(codec.open('codegrant.session', sealed)).toBe('hello')
    expect(codec.open('codegrant.tx.abc', sealed)).toBeUndefined()
  })

  it('refuses any single-character change', () => {
    const codec = createCookieCodec([NEW])
    const sealed = codec.seal('s', 'payload')
    for (let i = 0; i < sealed.length; i++) {
      const flipped = sealed.slice(0, i) + (sealed[i] === 'A' ? 'B' : 'A') + sealed.slice(i + 1)
      if (flipped !== sealed) expect(codec.open('s', flipped)).toBeUndefined()
    }
  })

  it('accepts only the canonical spelling of a sealed value', () => {
    const codec = createCookieCodec([NEW])
    const sealed = codec.seal('s', 'payload')
    expect(codec.open('s', sealed)).toBe('payload')
    // Node's base64url decoder skips unknown characters and ignores a last character's spare bits
    const spare = sealed.slice(0, -1) + String.fromCharCode(sealed.charCodeAt(sealed.length - 1) ^ 1)
    for (const variant of [`${sealed.slice(0, 30)}!${sealed.slice(30)}`, `${sealed.slice(0, 30)}\u00e9${sealed.slice(30)}`, `${sealed}=`, ` ${sealed}`, spare]) {
      expect(codec.open('s', variant)).toBeUndefined()
    }
  })

  it('decrypts with every listed key and encrypts with the first', () => {
    const sealedOld = createCookieCodec([OLD]).seal('s', 'v')
    const rotating = createCookieCodec([NEW, OLD])
    expect(rotating.open('s', sealedOld)).toBe('v')
    expect(createCookieCodec([NEW]).open('s', rotating.seal('s', 'w'))).toBe('w')
    expect(createCookieCodec(['x'.repeat(32)]).open('s', sealedOld)).toBeUndefined()
  })

  it('never yields the same ciphertext twice', () => {
    const codec = createCookieCodec([NEW])
    expect(codec.seal('s', 'v')).not.toBe(codec.seal('s', 'v'))
  })
})
