import { Module } from '@nestjs/common';
import { DeviceIdentityModule } from '../device-identity/device-identity.module.js';
import { EnrollmentsModule } from '../enrollments/enrollments.module.js';
import { UserChannelsModule } from '../user-channels/user-channels.module.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { InspectionController } from './inspection.controller.js';

@Module({
  imports: [EnrollmentsModule, DeviceIdentityModule, UserChannelsModule],
  controllers: [InspectionController],
  providers: [ApiKeyGuard],
})
export class AdminModule {}
