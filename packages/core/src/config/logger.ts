/** The logger codegrant calls, built from the one the app passed (or the console). */
import type { FullLogger, Logger } from './options.js'

const DEFAULT_LOGGER: FullLogger = {
  debug: (message) => console.debug(`[codegrant] ${message}`),
  info: (message) => console.info(`[codegrant] ${message}`),
  warn: (message) => console.warn(`[codegrant] ${message}`),
  error: (message) => console.error(`[codegrant] ${message}`),
}

const ignore = () => {}

/** Every level, called as methods (pino needs its `this`); `debug` only when asked for. */
export function fullLogger(logger: Logger | undefined, debug: boolean): FullLogger {
  const target = logger ?? DEFAULT_LOGGER
  return {
    debug: debug ? (message) => (target.debug ? target.debug(message) : target.info?.(message)) : ignore,
    info: (message) => target.info?.(message),
    warn: (message) => target.warn(message),
    error: (message) => target.error(message),
  }
}
