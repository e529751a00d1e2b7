// THROW-AWAY EXPERIMENT (issue #11 item 7): the same log lines written by pino, to compare with
// AppLogger on the benchmark. MDM_EXPERIMENT_LOGGER=pino: pino behind AppLogger.emit;
// MDM_EXPERIMENT_LOGGER=nestjs-pino: in addition nestjs-pino's LoggerModule (pino-http middleware
// giving every request its child logger with the request id, through AsyncLocalStorage).
import { randomUUID } from 'node:crypto';
import type { DynamicModule } from '@nestjs/common';
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import type { Params } from 'nestjs-pino';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { LogFormat, LogLevel } from '../config/config.js';
import { AppLogger } from './app-logger.js';
import type { LogFields } from './app-logger.js';

export type ExperimentLogger = 'pino' | 'nestjs-pino' | undefined;
export const EXPERIMENT: ExperimentLogger = ((): ExperimentLogger => {
  const v = process.env.MDM_EXPERIMENT_LOGGER;
  return v === 'pino' || v === 'nestjs-pino' ? v : undefined;
})();

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** pino configured for the same JSON line as AppLogger: time, level (as a word), msg, fields; secrets redacted. */
export function makePino(level: LogLevel): Logger {
  return pino({
    level,
    base: undefined,
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: [
        'token',
        'unlockToken',
        'bootstrapToken',
        'authToken',
        'pushMagic',
        'req.headers.authorization',
        'req.headers["mdm-signature"]',
        'req.headers["client-cert"]',
      ],
      censor: '[redacted]',
    },
  });
}

export class PinoAppLogger extends AppLogger {
  private readonly root: Logger;
  readonly params: Params | undefined;
  private readonly nest: PinoLogger | undefined;

  constructor(level: LogLevel, format: LogFormat, perRequest: boolean) {
    super(level, format);
    this.root = makePino(level);
    if (perRequest) {
      // pino-http binds the request id to each request's child logger (nestjs-pino's way).
      this.params = {
        pinoHttp: {
          logger: this.root,
          autoLogging: false,
          quietReqLogger: true,
          customAttributeKeys: { reqId: 'requestId' },
          genReqId: (req) => {
            const h = req.headers['x-request-id'];
            return typeof h === 'string' && REQUEST_ID_RE.test(h) ? h : randomUUID();
          },
        },
      };
      this.nest = new PinoLogger(this.params);
    }
  }

  override emit(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    const log = this.nest !== undefined ? this.nest.logger : this.root;
    log[level](fields, msg);
  }
}

/** nestjs-pino's module around the app (its pino-http middleware on every route). */
export function nestjsPinoModule(logger: PinoAppLogger): DynamicModule {
  if (logger.params === undefined) throw new Error('not the nestjs-pino experiment');
  return LoggerModule.forRoot(logger.params);
}
