import { describe, expect, it } from 'vitest'
import { ownCookies, parseCookies, readChunked, writeChunked } from '../../src/session/cookie-jar.js'

describe('chunked cookies', () => {
  const attributes = { secure: true, sameSite: 'lax' as const, maxAge: 3600 }

  it('splits under 4096 bytes per Set-Cookie and reassembles', () => {
    const value = 'v'.repeat(10_000)
    const headers = writeChunked({}, '__Host-s', value, attributes)
    expect(headers.length).toBe(3)
    for (const header of headers) expect(Buffer.byteLength(header)).toBeLessThanOrEqual(4096)
    const jar = Object.fromEntries(headers.map((h) => h.split(';')[0]!.split('=') as [string, string]))
    expect(readChunked(jar, '__Host-s')).toBe(value)
  })

  it('deletes stale chunks when the value shrinks to one cookie', () => {
    const headers = writeChunked(parseCookies('s.0=a; s.1=b; s.2=c; other=1'), 's', 'small', attributes)
    expect(headers[0]).toMatch(/^s=small;/)
    expect(headers.slice(1).map((h) => h.split('=')[0]).sort()).toEqual(['s.0', 's.1', 's.2'])
    expect(headers.slice(1).every((h) => /Max-Age=0/.test(h))).toBe(true)
  })

  it('marks cookies HttpOnly, Path=/, SameSite=Lax and Secure', () => {
    const [header] = writeChunked({}, '__Host-s', 'x', attributes)
    expect(header).toMatch(/HttpOnly/)
    expect(header).toMatch(/Path=\//)
    expect(header).toMatch(/SameSite=Lax/)
    expect(header).toMatch(/Secure/)
    expect(header).not.toMatch(/Domain=/)
  })
})

describe('own cookies (the request\'s Cookie header, codegrant\'s pairs only)', () => {
  const own = (jar: Record<string, string | undefined>) => Object.fromEntries(Object.entries(jar).filter(([name]) => /^(__Host-)?codegrant\./.test(name)))

  it('finds codegrant\'s cookies among the app\'s, as the whole header\'s parse does, and no other', () => {
    const cases = [
      'codegrant.session=abc',
      '__Host-codegrant.session=abc; __Host-codegrant.tx.s1=t1',
      '_ga=GA1.1.123; theme=dark; codegrant.session.0=aa; codegrant.session.1=bb; lang=en',
      'x=codegrant.session=planted; codegrant.session=real',
      'acodegrant.session=not-ours; y=1',
      'codegrant.session=first; codegrant.session=second',
      '  codegrant.session = spaced ;other=1',
      'bare; codegrant.session=after-a-pair-without-value',
      'a=1;codegrant.tx.s=%7Bencoded%7D;b="quoted";codegrant.silent=1',
      'other=codegrant.; codegrant.=empty-suffix',
      'nothing=here; at=all',
    ]
    for (const header of cases) {
      expect(ownCookies(header), header).toEqual(own(parseCookies(header)))
      expect(Object.keys(ownCookies(header)).every((name) => /^(__Host-)?codegrant\./.test(name)), header).toBe(true)
    }
    expect(ownCookies(undefined)).toEqual({})
    expect(ownCookies('')).toEqual({})
  })

  it('picks codegrant\'s pairs out of a header of 100 cookies; look-alike names and values that carry our name are not ours', () => {
    const sealed = 'S'.repeat(1500)
    const app = Array.from({ length: 100 }, (_, i) => `app${i}=${i % 7 === 0 ? `codegrant.session=${i}` : `v${i}`}`)
    const lookAlikes = ['xcodegrant.session=x', 'my.codegrant.session=y', 'codegrant=z', '__Host-xcodegrant.session=w', 'codegrantXsession=u']
    const header = [...app.slice(0, 50), ...lookAlikes, `codegrant.session=${sealed}`, ...app.slice(50), 'codegrant.tx.abc=t; last=codegrant.session'].join('; ')
    expect(ownCookies(header)).toEqual({ 'codegrant.session': sealed, 'codegrant.tx.abc': 't' })
    expect(ownCookies(header)).toEqual(own(parseCookies(header)))
    // look-alikes only: nothing of ours
    expect(ownCookies(lookAlikes.join('; '))).toEqual({})
    expect(ownCookies(`a=codegrant.session=planted; b="codegrant.session=quoted"`)).toEqual({})
  })

  it('resolves a duplicated name as the whole parse does: the first pair wins', () => {
    for (const header of [
      'codegrant.session=first; codegrant.session=second',
      'other=1; codegrant.session=first; x=2; codegrant.session=second',
      'codegrant.session=first; __Host-codegrant.session=host; codegrant.session=second',
      'xcodegrant.session=planted; codegrant.session=first; codegrant.session=second',
    ]) {
      expect(ownCookies(header)['codegrant.session'], header).toBe('first')
      expect(ownCookies(header), header).toEqual(own(parseCookies(header)))
    }
  })

  it('agrees with the whole parse on 5,000 generated headers', () => {
    // a fixed-seed generator (xorshift): the same headers on every run
    let seed = 0x2f6b7a1
    const random = (n: number) => {
      seed ^= seed << 13
      seed ^= seed >>> 17
      seed ^= seed << 5
      return (seed >>> 0) % n
    }
    const names = ['codegrant.session', '__Host-codegrant.session', 'codegrant.session.0', 'codegrant.tx.a', 'codegrant.', 'acodegrant.x', '_ga', 'codegrant', ' codegrant.session', '__Host- codegrant.session', '']
    const pieces = ['v', 'codegrant.session', '=', ' ', '%41', '"', 'codegrant.', '__Host-']
    for (let run = 0; run < 5000; run++) {
      const pairs = Array.from({ length: random(6) + 1 }, () => {
        const value = Array.from({ length: random(4) }, () => pieces[random(pieces.length)]).join('')
        return random(8) === 0 ? value : `${names[random(names.length)]}=${value}`
      })
      const header = pairs.join(random(2) === 0 ? '; ' : ';')
      expect(ownCookies(header), header).toEqual(own(parseCookies(header)))
    }
  })
})
