import type { DevProvider } from '@codegrant/dev-provider'

export interface TokenGate {
  /** How many token requests are being held now. */
  readonly held: number
  /** Lets the held requests (and later ones) go on. */
  release(): void
  /** Answers the held requests 503 without the provider seeing them (and lets later ones go on). */
  drop(): void
  /** Resolves once `count` requests are held. */
  waitForHeld(count?: number): Promise<void>
}

/**
 * Holds the dev provider's token responses for one grant type, so a test can act while a
 * refresh is in flight: `before` holds any token request before oidc-provider sees it (the
 * refresh token is not used; arm it after login); `after` holds the response after the grant was processed (the tokens are
 * rotated and the client has not received them yet). Holds only the first `limit` requests.
 */
export function holdTokenRequests(devProvider: DevProvider, grantType: string, when: 'before' | 'after', limit = 1): TokenGate {
  let open = false
  let dropped = false
  let held = 0
  let count = 0
  const waiting: (() => void)[] = []
  let releaseAll: () => void = () => undefined
  const gate = new Promise<void>((resolve) => { releaseAll = resolve })
  const hold = async (ctx: { status: number; body: unknown }): Promise<boolean> => {
    held++
    waiting.splice(0).forEach((wake) => wake())
    await gate
    held--
    if (dropped) {
      ctx.status = 503
      ctx.body = { error: 'temporarily_unavailable' }
      return false
    }
    return true
  }
  const remove = devProvider.intercept(async (ctx, next) => {
    const matches = () => !open && count < limit && ctx.path.endsWith('/token') && ctx.method === 'POST'
    if (when === 'before' && matches()) {
      // the form body is not parsed yet: every token request counts (arm the gate after login)
      count++
      if (!(await hold(ctx))) return
      return next()
    }
    await next()
    if (when === 'after' && matches() && ctx.oidc?.params?.grant_type === grantType) {
      count++
      await hold(ctx)
    }
  })
  return {
    get held() {
      return held
    },
    release() {
      open = true
      releaseAll()
      remove()
    },
    drop() {
      open = true
      dropped = true
      releaseAll()
      remove()
    },
    async waitForHeld(wanted = 1) {
      while (held < wanted) await new Promise<void>((resolve) => waiting.push(resolve))
    },
  }
}
