import { describe, expect, it } from 'vitest'
import { newSessionId } from '../../src/session/backend.js'

describe('session ids (SECURITY-PLAN #95)', () => {
  it('are 144 random bits, base64url, never repeated in 100,000 draws, not sequential', () => {
    const ids = Array.from({ length: 100_000 }, newSessionId)
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids.slice(0, 100)) expect(id).toMatch(/^[\w-]{24}$/)
    // no shared prefix between consecutive ids, as a counter or a timestamp would give
    const shared = ids.slice(1, 1001).filter((id, i) => id.slice(0, 4) === ids[i]!.slice(0, 4)).length
    expect(shared).toBeLessThan(5)
  })
})
