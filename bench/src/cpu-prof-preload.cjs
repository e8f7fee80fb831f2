// `node --cpu-prof` for a process started through pnpm: Node refuses `--cpu-prof` in NODE_OPTIONS,
// so src/examples.mjs preloads this (`NODE_OPTIONS=--require …`) with BENCH_CPU_PROF_DIR set. In the
// server process (node dist/server.js, or a floor), it starts V8's sampling profiler through the
// inspector on SIGUSR2 (sent after the sign-in and the warm-up, so the profile holds the measured
// load only: the example's own login runs in its process) and writes a `.cpuprofile` at exit, as
// --cpu-prof would; in other processes (pnpm) it does nothing.
const { Session } = require('node:inspector')
const { writeFileSync } = require('node:fs')
const { join } = require('node:path')

const dir = process.env.BENCH_CPU_PROF_DIR
const script = process.argv[1] ?? ''
if (dir && /(dist\/server\.js|example-floors\.mjs)$/.test(script)) {
  const session = new Session()
  let started = false
  process.on('SIGUSR2', () => {
    if (started) return
    started = true
    session.connect()
    session.post('Profiler.enable')
    session.post('Profiler.start')
  })
  // the inspector answers a session of the same thread synchronously, so this works at exit
  process.on('exit', () => {
    if (!started) return
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(join(dir, `CPU.${process.pid}.cpuprofile`), JSON.stringify(result.profile))
    })
  })
}
