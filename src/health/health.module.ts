import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller.js';
import { DatabaseHealthIndicators } from './health.indicators.js';

@Module({
  // Our indicators log what failed themselves, without the driver's details in the answer.
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [DatabaseHealthIndicators],
})
export class HealthModule {}
