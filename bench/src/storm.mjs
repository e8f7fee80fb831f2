// A refresh storm: many concurrent requests for sessions whose access tokens have expired, all
// sent at once (one connection each); the refresh grants are counted at the provider.

/**
 * Sends `requests` concurrent `GET`s, request `i` to `urlFor(i)` with the Cookie header
 * `cookieFor(i)`, and counts the refresh grants the dev provider made meanwhile.
 */
export async function refreshStorm({ provider, requests, urlFor, cookieFor }) {
  const grantsBefore = provider.count('grant.success', 'refresh_token')
  const errorsBefore = provider.count('grant.error', 'refresh_token')
  const started = performance.now()
  const responses = await Promise.all(
    Array.from({ length: requests }, async (_, i) => {
      const response = await fetch(urlFor(i), { headers: { accept: 'application/json', cookie: cookieFor(i) } })
      await response.text()
      return { status: response.status, renewed: response.headers.getSetCookie().length > 0, at: performance.now() - started }
    }),
  )
  const drainMs = performance.now() - started
  const counts = {}
  for (const { status } of responses) counts[status] = (counts[status] ?? 0) + 1
  const latencies = responses.map((r) => r.at).sort((a, b) => a - b)
  return {
    requests,
    grants: provider.count('grant.success', 'refresh_token') - grantsBefore,
    grantErrors: provider.count('grant.error', 'refresh_token') - errorsBefore,
    statuses: Object.entries(counts).map(([status, n]) => `${n}× ${status}`).join(', '),
    renewed: responses.filter((r) => r.renewed).length,
    drainMs,
    p50Ms: latencies[Math.floor(latencies.length / 2)],
    p99Ms: latencies[Math.floor(latencies.length * 0.99)],
  }
}
