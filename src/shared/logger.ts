import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

export type Logger = PinoLogger;

/** Keys whose values never reach a log line, wherever they appear in the structured fields. */
const REDACT = ['*.api_key', '*.apiKey', '*.secret', '*.password', '*.token', 'headers["x-api-key"]', 'headers["x-ca-root-key"]', 'req.headers["x-api-key"]', 'req.headers["x-ca-root-key"]'];

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino({ level: options.level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'pipeline' } }, options.destination);
}

/** A logger that drops everything, for tests and CLI commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
