// Reading valgrind's callgrind output (format: https://valgrind.org/docs/manual/cl-format.html),
// for src/instructions.mjs.

/**
 * What one callgrind dump file (one thread) says: its total, and the inclusive instructions and
 * calls of the functions matching each of `patterns` (summed over the call edges into them from
 * functions that do not match, so recursion is not counted twice).
 */
export function readDump(text, patterns = {}) {
  const names = new Map()
  const nameOf = (rest) => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(rest)
    if (!match) return rest
    if (match[2] !== undefined) names.set(match[1], match[2])
    return names.get(match[1]) ?? ''
  }
  const found = Object.fromEntries(Object.keys(patterns).map((key) => [key, { instructions: 0, calls: 0 }]))
  let total = 0
  let caller = ''
  let callee = ''
  let calls = -1
  for (const line of text.split('\n')) {
    if (line.startsWith('fn=')) caller = nameOf(line.slice(3))
    else if (line.startsWith('cfn=')) callee = nameOf(line.slice(4))
    else if (line.startsWith('calls=')) calls = Number(line.slice(6).split(' ')[0])
    else if (calls >= 0 && /^[0-9+*-]/.test(line)) {
      const cost = Number(line.slice(line.lastIndexOf(' ') + 1))
      for (const [key, pattern] of Object.entries(patterns)) {
        if (pattern.test(callee) && !pattern.test(caller)) {
          found[key].instructions += cost
          found[key].calls += calls
        }
      }
      calls = -1
    } else if (line.startsWith('summary: ') || line.startsWith('totals: ')) total = Number(line.slice(line.indexOf(' ') + 1))
  }
  return { total, ...found }
}
