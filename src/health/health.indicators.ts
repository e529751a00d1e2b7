import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import { DataSource, MigrationExecutor } from 'typeorm';
import { AppLogger } from '../logging/app-logger.js';

/**
 * Readiness of the database, as two terminus indicators. The probes are unauthenticated, so
 * the answer says only what is wrong; the driver's message (hosts, user names) goes to the log.
 */
@Injectable()
export class DatabaseHealthIndicators {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(AppLogger) private readonly logger: AppLogger,
  ) {}

  /** The database answers `SELECT 1` (bounded by DATABASE_TIMEOUT_MS like every query). */
  async ping(key: 'database'): Promise<HealthIndicatorResult<'database'>> {
    const check = this.indicators.check(key);
    try {
      await this.ds.query('SELECT 1');
      return check.up();
    } catch (err) {
      this.warn('database unreachable', err);
      return check.down({ message: 'database unreachable' });
    }
  }

  /**
   * Every migration this version carries is recorded as executed. A pod of a newer version
   * whose migration Job has not run yet is alive but must not get traffic.
   */
  async migrationsApplied(key: 'migrations'): Promise<HealthIndicatorResult<'migrations'>> {
    const check = this.indicators.check(key);
    let pending: string[];
    try {
      // Read-only (unlike DataSource.showMigrations, which creates the migrations table).
      pending = (await new MigrationExecutor(this.ds).getPendingMigrations()).map((m) => m.name);
    } catch (err) {
      this.warn('cannot read the executed migrations', err);
      return check.down({ message: 'cannot read the executed migrations' });
    }
    if (pending.length > 0) return check.down({ message: 'database migrations are pending', pending });
    return check.up({ applied: this.ds.migrations.length });
  }

  private warn(msg: string, err: unknown): void {
    this.logger.emit('warn', `readiness check failed: ${msg}`, {
      reason: err instanceof Error ? err.message : String(err),
    });
  }
}
