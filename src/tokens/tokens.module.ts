import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ApiKeyGuard } from '../admin/api-key.guard.js';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EnrollmentsModule } from '../enrollments/enrollments.module.js';
import { TOKENS_ENTITIES } from './entities/index.js';
import { GetTokenHandler } from './get-token.handler.js';
import { MaidTokenService } from './maid.token-service.js';
import { TokenReplayStore } from './token-replay.store.js';
import { TokenServiceRegistry } from './token-service.registry.js';
import { WatchPairingController } from './watch-pairing.controller.js';
import { WatchPairingTokenService } from './watch-pairing.token-service.js';

/**
 * GetToken: the token-service registry, the built-in services, and watch pairing verification.
 * JwtService has no module-wide key: com.apple.maid and watch pairing sign with two different
 * configured keys (read and checked at start-up), each passed with its algorithm on every call.
 */
@Module({
  imports: [TypeOrmModule.forFeature(TOKENS_ENTITIES), DiscoveryModule, EnrollmentsModule, JwtModule.register({})],
  controllers: [WatchPairingController],
  providers: [
    TokenServiceRegistry,
    GetTokenHandler,
    MaidTokenService,
    WatchPairingTokenService,
    TokenReplayStore,
    ApiKeyGuard,
  ],
  exports: [TokenServiceRegistry],
})
export class TokensModule {}
