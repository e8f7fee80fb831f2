// Pure formatting shared by the server (first render), the inspector's script (countdowns, updates)
// and the single-page app (served as /spa/format.js): the inspector's script carries these functions'
// own source, so they use nothing but the language.

/** `2026-12-01 10:45:12 UTC` */
export function formatTime(epoch: number): string {
  return `${new Date(epoch * 1000).toISOString().slice(0, 19).replace('T', ' ')} UTC`
}

/** Time left, to the second under an hour: `in 4 min 05 s`, `in 6 d 23 h`, `expired 12 s ago`. */
export function formatLeft(seconds: number): string {
  const s = Math.round(Math.abs(seconds))
  const pad = (n: number) => String(n).padStart(2, '0')
  let span: string
  if (s < 60) span = `${s} s`
  else if (s < 3600) span = `${Math.floor(s / 60)} min ${pad(s % 60)} s`
  else if (s < 86400) span = `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`
  else span = `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`
  return seconds > 0 ? `in ${span}` : `expired ${span} ago`
}
