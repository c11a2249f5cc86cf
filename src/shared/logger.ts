import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

export type Logger = PinoLogger;

const SECRET_KEYS = ['api_key', 'apiKey', 'secret', 'password', 'token'];

/** Keys whose values never reach a log line, at the top of the fields or one level down, and the auth headers. */
export const REDACT: pino.LoggerOptions['redact'] = {
  paths: [...SECRET_KEYS, ...SECRET_KEYS.map((key) => `*.${key}`), 'headers["x-api-key"]', 'headers["x-ca-root-key"]', 'req.headers["x-api-key"]', 'req.headers["x-ca-root-key"]'],
  censor: '[redacted]',
};

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino({ level: options.level, redact: REDACT, base: { service: 'pipeline' } }, options.destination);
}

/** A logger that drops everything, for tests and CLI commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
