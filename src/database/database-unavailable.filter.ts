import { Catch, Inject } from '@nestjs/common';
import type { ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { Response } from 'express';
import { AppLogger } from '../logging/app-logger.js';
import { isDatabaseUnavailable } from './database.service.js';

/**
 * Outside the check-in endpoint (which maps its own failures), an unreachable, locked or
 * timed-out database is 503 with Retry-After, like for a device: the caller should try again
 * later, and it is not a bug of ours worth a stack trace. Everything else keeps Nest's
 * default handling.
 */
@Catch()
export class DatabaseUnavailableFilter extends BaseExceptionFilter {
  constructor(@Inject(AppLogger) private readonly logger: AppLogger) {
    super();
  }

  override catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http' || !isDatabaseUnavailable(exception)) {
      super.catch(exception, host);
      return;
    }
    const res = host.switchToHttp().getResponse<Response>();
    const reason = exception instanceof Error ? exception.message : String(exception);
    this.logger.emit('warn', 'database unavailable', { reason });
    if (res.headersSent) return;
    res
      .status(503)
      .setHeader('Retry-After', '30')
      .json({ statusCode: 503, error: 'Service Unavailable', message: 'the database is unavailable; try again later' });
  }
}
