import { Module } from '@nestjs/common';
import { EnrollmentsModule } from '../enrollments/enrollments.module.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { InspectionController } from './inspection.controller.js';

@Module({
  imports: [EnrollmentsModule],
  controllers: [InspectionController],
  providers: [ApiKeyGuard],
})
export class AdminModule {}
