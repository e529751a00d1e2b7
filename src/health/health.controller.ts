import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import type { HealthCheckResult } from '@nestjs/terminus';
import { DatabaseHealthIndicators } from './health.indicators.js';
import { HEALTH_ERROR_EXAMPLES, HEALTH_LIVE_EXAMPLE, HEALTH_READY_EXAMPLE, healthSchema } from './health.schema.js';

/** Liveness and readiness probes for Kubernetes, in terminus' answer shape. */
@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(DatabaseHealthIndicators) private readonly db: DatabaseHealthIndicators,
  ) {}

  /** The process is alive and serving HTTP; it never touches the database. */
  @Get('healthz')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({
    operationId: 'healthz',
    summary: 'Liveness',
    description: 'The process is alive and serving HTTP. Checks nothing else: the database is not touched.',
    security: [],
  })
  @ApiOkResponse({ description: 'Alive.', schema: healthSchema('ok'), example: HEALTH_LIVE_EXAMPLE })
  healthz(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** The database answers and every migration is applied; 503 otherwise. */
  @Get('readyz')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({
    operationId: 'readyz',
    summary: 'Readiness',
    description:
      'Two checks: `database` (the database answers `SELECT 1` within DATABASE_TIMEOUT_MS) and `migrations` ' +
      '(every migration of this version is recorded as executed). The answer names the failed check and ' +
      'why, never the driver’s message (that goes to the log).',
    security: [],
  })
  @ApiOkResponse({ description: 'Ready.', schema: healthSchema('ok'), example: HEALTH_READY_EXAMPLE })
  @ApiServiceUnavailableResponse({
    description: 'Not ready: the database is unreachable, or migrations are pending.',
    schema: healthSchema('error'),
    examples: HEALTH_ERROR_EXAMPLES,
  })
  readyz(): Promise<HealthCheckResult> {
    return this.health.check([() => this.db.ping('database'), () => this.db.migrationsApplied('migrations')]);
  }
}
