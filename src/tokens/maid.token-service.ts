import { Inject, Injectable } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import type { ConfigType } from '@nestjs/config';
import type { MaidConfig } from '../config/config.js';
import { tokensConfig } from '../config/namespaces.js';
import { loadMaidSigningKey } from '../config/config-files.js';
import { AppLogger } from '../logging/app-logger.js';
import { TokenService } from './token-service.js';
import type { TokenRequest, TokenServiceHandler } from './token-service.js';

export const MAID_SERVICE_TYPE = 'com.apple.maid';

/**
 * `com.apple.maid`: the token a device hands to Apple when a Managed Apple Account signs in,
 * so Apple can check the account belongs to the organisation of the MDM server that enrolled
 * the device. A JWT (RFC 7519) with exactly Apple's claims — `iss` (the server UUID that
 * Apple Business/School Manager's AccountDetail reports), `iat`, `jti` (a random UUID; Apple
 * accepts each once) and `service_type` — signed RS256 with the private key whose certificate
 * is registered in ABM/ASM. `TokenData` holds the JWT's UTF-8 bytes.
 */
@TokenService(MAID_SERVICE_TYPE)
@Injectable()
export class MaidTokenService implements TokenServiceHandler, OnModuleInit {
  enabled = false;
  disabledReason = 'set MAID_SERVER_UUID, MAID_SIGNING_KEY_FILE and MAID_SIGNING_CERT_FILE';
  private key: KeyObject | undefined;
  private readonly config: MaidConfig | undefined;

  constructor(
    @Inject(tokensConfig.KEY) config: ConfigType<typeof tokensConfig>,
    @Inject(AppLogger) private readonly logger: AppLogger,
    @Inject(JwtService) private readonly jwt: JwtService,
  ) {
    this.config = config.maid;
  }

  /** Loads the key and refuses to start when it does not belong to the configured certificate. */
  onModuleInit(): void {
    if (this.config === undefined) return;
    const { serverUuid } = this.config;
    const { key, cert } = loadMaidSigningKey(this.config);
    this.key = key;
    this.enabled = true;
    this.logger.emit('info', 'GetToken com.apple.maid enabled', {
      serverUuid,
      certificate: cert.subject.replace(/\n/g, ', '),
      certificateNotAfter: new Date(cert.validTo).toISOString(),
    });
  }

  async issue(request: TokenRequest): Promise<Buffer> {
    if (this.key === undefined || this.config === undefined) throw new Error('com.apple.maid is not enabled');
    const jti = randomUUID();
    // JwtService (jsonwebtoken) keeps the claims in this order and this iat: the token is the one
    // jose made before, byte for byte (header {alg, typ: JWT}; RS256 signatures are deterministic).
    const jwt = await this.jwt.signAsync(
      {
        service_type: MAID_SERVICE_TYPE,
        iss: this.config.serverUuid,
        iat: Math.floor(request.now.getTime() / 1000),
        jti,
      },
      { privateKey: this.key, algorithm: 'RS256' },
    );
    request.logFields.tokenId = jti;
    return Buffer.from(jwt, 'utf8');
  }
}
