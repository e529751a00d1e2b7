import { Module } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.js';
import type { AppConfig } from '../config/config.js';
import { EnrollmentsModule } from '../enrollments/enrollments.module.js';
import { AppLogger } from '../logging/app-logger.js';
import { CertificateBindingMiddleware } from './certificate-binding.middleware.js';
import { CertificateBindingsRepository } from './certificate-bindings.repository.js';
import { CertificateBindingsService } from './certificate-bindings.service.js';
import { createDeviceIdentityService, DeviceIdentityService } from './device-identity.service.js';

/** Who sent a check-in: certificate verification (signature or proxy header) and binding. */
@Module({
  imports: [EnrollmentsModule],
  providers: [
    {
      provide: DeviceIdentityService,
      inject: [APP_CONFIG, AppLogger],
      useFactory: (config: AppConfig, logger: AppLogger) => createDeviceIdentityService(config, logger),
    },
    CertificateBindingsRepository,
    CertificateBindingsService,
    CertificateBindingMiddleware,
  ],
  exports: [DeviceIdentityService, CertificateBindingMiddleware, CertificateBindingsService],
})
export class DeviceIdentityModule {}
