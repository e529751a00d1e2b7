import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import { AppLogger } from '../logging/app-logger.js';
import type { Response } from 'express';
import { DataSource } from 'typeorm';

/** Liveness and readiness probes for Kubernetes. */
@Controller()
export class HealthController {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(AppLogger) private readonly logger: AppLogger,
  ) {}

  /** The process is alive and serving HTTP. */
  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** The database answers and every migration is applied; 503 otherwise. */
  @Get('readyz')
  async readyz(@Res() res: Response): Promise<void> {
    try {
      await this.ds.query('SELECT 1');
      const pending = await this.ds.showMigrations();
      if (pending) {
        res.status(503).json({ status: 'unavailable', reason: 'database migrations are pending' });
        return;
      }
      res.status(200).json({ status: 'ok' });
    } catch (err) {
      // The probe is unauthenticated: details (hosts, users) go to the log, not the answer.
      this.logger.emit('warn', 'readiness check failed', { reason: err instanceof Error ? err.message : String(err) });
      res.status(503).json({ status: 'unavailable', reason: 'database unreachable' });
    }
  }
}
