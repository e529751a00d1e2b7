import { Global, Module } from '@nestjs/common';
import { MetricsServer } from './metrics.server.js';
import { MetricsService } from './metrics.service.js';

/**
 * Prometheus metrics (METRICS_PORT): the check-in counters and latency histogram the check-in
 * controller feeds, identity refusals by reason, the MySQL pool, and the process's own metrics.
 */
@Global()
@Module({
  providers: [MetricsService, MetricsServer],
  exports: [MetricsService, MetricsServer],
})
export class MetricsModule {}
