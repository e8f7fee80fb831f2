import { TITLE } from './pages.js';

export const WARNING = `${TITLE}: for development and tests only — do not use in production`;

let warned = false;

/** The loud warning, on stderr, once per process. */
export function warnOnce(): void {
  if (warned) return;
  warned = true;
  const rule = '!'.repeat(WARNING.length + 4);
  console.error(`${rule}\n! ${WARNING.toUpperCase()} !\n${rule}`);
}

/** Lines framed so they stand out in a terminal full of logs. */
export function framed(lines: string[]): string {
  const rule = '='.repeat(Math.max(...lines.map((line) => line.length)) + 2);
  return [rule, ...lines.map((line) => ` ${line}`), rule].join('\n');
}
