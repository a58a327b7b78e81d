import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export interface LoggerSettings {
  name: string;
  level: string;
  /** Extra fields on every line (service, replica id …). */
  base?: Record<string, unknown>;
}

/**
 * JSON logs on stdout (one line per record) for production; log shippers parse them as they are.
 * Secrets that travel in headers and configuration are redacted wherever they appear.
 */
export function createLogger(settings: LoggerSettings, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level,
    base: { service: settings.name, ...settings.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['*.authorization', '*.headers.authorization', '*.token', '*.password', '*.secret'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that writes nothing, for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
