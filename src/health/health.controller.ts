import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { DataSource } from 'typeorm';

/** Liveness and readiness probes for Kubernetes. */
@Controller()
export class HealthController {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}

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
      const reason = err instanceof Error ? err.message : String(err);
      res.status(503).json({ status: 'unavailable', reason: `database unreachable: ${reason}` });
    }
  }
}
