import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ENROLLMENTS_ENTITIES } from './entities/index.js';
import { EnrollmentsQueries } from './enrollments.queries.js';
import { EnrollmentsRepository } from './enrollments.repository.js';
import { EnrollmentsService } from './enrollments.service.js';
import { AuthenticateHandler } from './handlers/authenticate.handler.js';
import { GetBootstrapTokenHandler, SetBootstrapTokenHandler } from './handlers/bootstrap-token.handlers.js';
import { CheckOutHandler } from './handlers/check-out.handler.js';
import { TokenUpdateHandler } from './handlers/token-update.handler.js';

/**
 * Devices and their enrollments (the devices and enrollments tables): the device-channel
 * check-in handlers, the service other modules call, and the read side for the API.
 */
@Module({
  imports: [TypeOrmModule.forFeature(ENROLLMENTS_ENTITIES)],
  providers: [
    EnrollmentsRepository,
    EnrollmentsService,
    EnrollmentsQueries,
    AuthenticateHandler,
    TokenUpdateHandler,
    CheckOutHandler,
    SetBootstrapTokenHandler,
    GetBootstrapTokenHandler,
  ],
  exports: [EnrollmentsService, EnrollmentsQueries],
})
export class EnrollmentsModule {}
