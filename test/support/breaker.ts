/**
 * Once a session store answers again, codegrant's circuit breaker (open after 3 failed calls in
 * a row) may still refuse calls for up to its pause (500 ms): repeats the request while it
 * answers 503, for at most `limitMs`, and gives its last answer.
 */
export async function onceBack<T extends { status: number }>(request: () => Promise<T>, limitMs = 3000): Promise<T> {
  const deadline = performance.now() + limitMs
  for (;;) {
    const response = await request()
    if (response.status !== 503 || performance.now() > deadline) return response
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
