/** The process logger (pino, JSON lines on stderr). Library code takes a child logger with scoped fields. */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'meterdata' } }, pino.destination(2));
}

/** A logger that drops everything: the default for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
