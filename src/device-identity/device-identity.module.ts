import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { ConfigType } from '@nestjs/config';
import { deviceIdentityConfig } from '../config/namespaces.js';
import { EnrollmentsModule } from '../enrollments/enrollments.module.js';
import { AppLogger } from '../logging/app-logger.js';
import { CertificateBindingMiddleware } from './certificate-binding.middleware.js';
import { CertificateBindingsRepository } from './certificate-bindings.repository.js';
import { CertificateBindingsService } from './certificate-bindings.service.js';
import { createDeviceIdentityService, DeviceIdentityService } from './device-identity.service.js';
import { DEVICE_IDENTITY_ENTITIES } from './entities/index.js';

/**
 * Who sent a check-in: certificate verification (signature or proxy header) and binding (the
 * certificate_bindings table). The check-in pipeline does not import this module, nor this
 * module the pipeline: AppModule plugs the service and the binding middleware in.
 */
@Module({
  imports: [TypeOrmModule.forFeature(DEVICE_IDENTITY_ENTITIES), EnrollmentsModule],
  providers: [
    {
      provide: DeviceIdentityService,
      inject: [deviceIdentityConfig.KEY, AppLogger],
      useFactory: (config: ConfigType<typeof deviceIdentityConfig>, logger: AppLogger) =>
        createDeviceIdentityService(config, logger),
    },
    CertificateBindingsRepository,
    CertificateBindingsService,
    CertificateBindingMiddleware,
  ],
  exports: [DeviceIdentityService, CertificateBindingMiddleware, CertificateBindingsService],
})
export class DeviceIdentityModule {}
