import { Inject, Injectable } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { createHash, createPrivateKey, createPublicKey, randomUUID, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { JwtService } from '@nestjs/jwt';
// jose stays for what @nestjs/jwt (jsonwebtoken 9) cannot do: the RFC 7638 thumbprint that is
// the `kid`, EdDSA (an Ed25519 WATCH_PAIRING_KEY_FILE or verification key), and verification,
// which must accept tokens of every algorithm this service issues, EdDSA included, and check `typ`.
import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, jwtVerify, SignJWT } from 'jose';
import { CheckinError, CheckinErrorCode } from '../checkin/checkin.errors.js';
import type { ConfigType } from '@nestjs/config';
import { tokensConfig } from '../config/namespaces.js';
import { EnrollmentsService } from '../enrollments/enrollments.service.js';
import { AppLogger } from '../logging/app-logger.js';
import { TokenReplayStore } from './token-replay.store.js';
import { TokenService } from './token-service.js';
import type { TokenRequest, TokenServiceHandler } from './token-service.js';

export const WATCH_PAIRING_SERVICE_TYPE = 'com.apple.watch.pairing';
export const WATCH_PAIRING_TYP = 'mdm-watch-pairing+jwt';
const DEFAULT_ISSUER = 'urn:mdm-checkin';

/** Why a pairing token was refused; stable codes for the watch server's logic and logs. */
export type PairingRejection =
  | 'malformed'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'expired'
  | 'wrong_watch'
  | 'wrong_security_token'
  | 'phone_not_enrolled'
  | 'replayed';

export class PairingTokenRejected extends Error {
  constructor(
    readonly reason: PairingRejection,
    message: string,
  ) {
    super(message);
    this.name = 'PairingTokenRejected';
  }
}

export interface VerifiedPairing {
  tokenId: string;
  phoneEnrollmentId: string;
  watchUdid: string;
  issuedAt: Date;
  expiresAt: Date;
}

interface PairingClaims {
  sub?: unknown;
  watch_udid?: unknown;
  sth?: unknown;
  jti?: unknown;
  iat?: unknown;
  exp?: unknown;
  service_type?: unknown;
}

const securityTokenHash = (securityToken: string): string =>
  createHash('sha256').update(securityToken, 'utf8').digest('base64url');

type PairingAlgorithm = 'ES256' | 'ES384' | 'RS256' | 'EdDSA';

function algorithmFor(key: KeyObject): PairingAlgorithm {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return 'ES256';
      if (curve === 'secp384r1') return 'ES384';
      throw new Error(`unsupported EC curve ${curve ?? '?'} for watch pairing (use P-256)`);
    }
    case 'rsa':
      return 'RS256';
    case 'ed25519':
      return 'EdDSA';
    case 'dsa':
    case 'ed448':
    case 'rsa-pss':
    case 'x25519':
    case 'x448':
    case undefined:
      throw new Error(`unsupported key type ${key.asymmetricKeyType ?? '?'} for watch pairing`);
  }
}

async function keyId(publicKey: KeyObject): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicKey));
}

/** Public keys from a PEM file of `PUBLIC KEY` blocks and/or certificates. */
function readVerifyKeys(path: string): KeyObject[] {
  const pem = readFileSync(path, 'utf8');
  const keys = (pem.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? []).map((b) =>
    createPublicKey(b),
  );
  for (const c of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    keys.push(new X509Certificate(c).publicKey);
  }
  if (keys.length === 0)
    throw new Error(`WATCH_PAIRING_VERIFY_KEYS_FILE ${path} holds no PUBLIC KEY or CERTIFICATE block`);
  return keys;
}

/**
 * `com.apple.watch.pairing`: requested by a managed iPhone so its Apple Watch can enroll
 * with the same organisation. The token is a compact JWS (`typ` mdm-watch-pairing+jwt,
 * `kid` = RFC 7638 thumbprint of the signing key) binding the issuer, the phone's enrollment
 * (`sub`), the watch's UDID, a SHA-256 of the SecurityToken (`sth`), issue and expiry time and a
 * unique id. It resists tampering (signature), spoofing (only the enrolled phone itself can
 * obtain one, for the watch and security token it names) and replay (the watch's server
 * accepts each id once, see {@link verify}).
 */
@TokenService(WATCH_PAIRING_SERVICE_TYPE)
@Injectable()
export class WatchPairingTokenService implements TokenServiceHandler, OnModuleInit {
  enabled = false;
  disabledReason = 'set WATCH_PAIRING_KEY_FILE';
  private signingKey: KeyObject | undefined;
  private signingAlg: PairingAlgorithm = 'ES256';
  private signingKid = '';
  private readonly verifyKeys = new Map<string, { key: KeyObject; alg: PairingAlgorithm }>();
  private readonly issuer: string;

  constructor(
    @Inject(tokensConfig.KEY) private readonly config: ConfigType<typeof tokensConfig>,
    @Inject(AppLogger) private readonly logger: AppLogger,
    @Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService,
    @Inject(TokenReplayStore) private readonly replays: TokenReplayStore,
    @Inject(JwtService) private readonly jwt: JwtService,
  ) {
    this.issuer = config.maid?.serverUuid ?? DEFAULT_ISSUER;
  }

  async onModuleInit(): Promise<void> {
    const { signingKeyFile, verifyKeysFile } = this.config.watchPairing;
    const publicKeys: KeyObject[] = [];
    if (signingKeyFile !== undefined) {
      const key = createPrivateKey(readFileSync(signingKeyFile));
      this.signingAlg = algorithmFor(key);
      this.signingKey = key;
      const pub = createPublicKey(key);
      this.signingKid = await keyId(pub);
      publicKeys.push(pub);
    }
    if (verifyKeysFile !== undefined) publicKeys.push(...readVerifyKeys(verifyKeysFile));
    for (const pub of publicKeys) this.verifyKeys.set(await keyId(pub), { key: pub, alg: algorithmFor(pub) });
    this.enabled = this.signingKey !== undefined;
    if (this.enabled || this.verifyKeys.size > 0) {
      this.logger.emit('info', 'watch pairing tokens', {
        issuing: this.enabled,
        kid: this.signingKid || undefined,
        verifyKeyIds: [...this.verifyKeys.keys()],
        issuer: this.issuer,
        ttlSeconds: this.config.watchPairing.ttlSeconds,
      });
    }
  }

  /** Whether this instance can verify tokens (it holds at least one verification key). */
  get canVerify(): boolean {
    return this.verifyKeys.size > 0;
  }

  async issue(request: TokenRequest): Promise<Buffer> {
    if (this.signingKey === undefined) throw new Error('com.apple.watch.pairing is not enabled');
    const p = request.parameters ?? {};
    const missing = ['PhoneUDID', 'SecurityToken', 'WatchUDID'].filter((k) => typeof p[k] !== 'string' || p[k] === '');
    if (missing.length > 0) {
      throw new CheckinError(
        CheckinErrorCode.InvalidTokenParameters,
        `com.apple.watch.pairing needs TokenParameters with ${missing.join(', ')} (strings)`,
      );
    }
    const phoneUdid = p.PhoneUDID as string;
    const watchUdid = p.WatchUDID as string;
    const { enrollment } = request;
    if (enrollment.type !== 'Device' || phoneUdid !== enrollment.deviceId) {
      throw new CheckinError(
        CheckinErrorCode.Forbidden,
        'PhoneUDID must be the enrolled iPhone that asks for the token',
      );
    }
    if (watchUdid.length > 128) {
      throw new CheckinError(CheckinErrorCode.InvalidTokenParameters, 'WatchUDID is longer than 128 characters');
    }
    const jti = randomUUID();
    const iat = Math.floor(request.now.getTime() / 1000);
    const claims = {
      service_type: WATCH_PAIRING_SERVICE_TYPE,
      watch_udid: watchUdid,
      sth: securityTokenHash(p.SecurityToken as string),
      iss: this.issuer,
      sub: enrollment.id,
      iat,
      exp: iat + this.config.watchPairing.ttlSeconds,
      jti,
    };
    const token = await this.sign(claims);
    request.logFields.tokenId = jti;
    request.logFields.watchUdid = watchUdid;
    return Buffer.from(token, 'utf8');
  }

  /**
   * A compact JWS of `claims` with the header {alg, typ: mdm-watch-pairing+jwt, kid}: JwtService
   * for ES256, ES384 and RS256; jose for EdDSA, which jsonwebtoken does not implement.
   */
  private async sign(claims: Record<string, unknown>): Promise<string> {
    const key = this.signingKey;
    if (key === undefined) throw new Error('com.apple.watch.pairing is not enabled');
    const alg = this.signingAlg;
    if (alg === 'EdDSA') {
      return new SignJWT(claims).setProtectedHeader({ alg, typ: WATCH_PAIRING_TYP, kid: this.signingKid }).sign(key);
    }
    return this.jwt.signAsync(claims, {
      privateKey: key,
      algorithm: alg,
      header: { alg, typ: WATCH_PAIRING_TYP, kid: this.signingKid },
    });
  }

  /**
   * The watch server's check: signature by a known key, our issuer, not expired, the same
   * watch, the same SecurityToken, the phone still enrolled, and never seen before (the id is
   * recorded until the token expires). A refused token is not consumed.
   */
  async verify(
    token: string,
    watchUdid: string,
    securityToken: string,
    now: Date = new Date(),
  ): Promise<VerifiedPairing> {
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      kid = header.kid;
      if (header.typ !== WATCH_PAIRING_TYP) throw new Error('typ');
    } catch {
      throw new PairingTokenRejected('malformed', 'the token is not a watch pairing token');
    }
    const known = kid === undefined ? undefined : this.verifyKeys.get(kid);
    if (known === undefined)
      throw new PairingTokenRejected('unknown_key', 'the token was signed with a key this server does not know');
    let claims: PairingClaims;
    try {
      const verified = await jwtVerify(token, known.key, {
        algorithms: [known.alg],
        typ: WATCH_PAIRING_TYP,
        currentDate: now,
        clockTolerance: 0,
      });
      claims = verified.payload;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED') throw new PairingTokenRejected('expired', 'the token has expired');
      if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED')
        throw new PairingTokenRejected('bad_signature', 'the token signature does not verify');
      throw new PairingTokenRejected('malformed', 'the token is malformed');
    }
    const { sub, watch_udid, sth, jti, iat, exp, service_type } = claims;
    if (
      typeof sub !== 'string' ||
      typeof watch_udid !== 'string' ||
      typeof sth !== 'string' ||
      typeof jti !== 'string' ||
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      service_type !== WATCH_PAIRING_SERVICE_TYPE
    ) {
      throw new PairingTokenRejected('malformed', 'the token lacks pairing claims');
    }
    if ((claims as { iss?: unknown }).iss !== this.issuer) {
      throw new PairingTokenRejected('wrong_issuer', 'the token was issued for another organisation');
    }
    if (watch_udid !== watchUdid)
      throw new PairingTokenRejected('wrong_watch', 'the token was issued for another watch');
    if (sth !== securityTokenHash(securityToken)) {
      throw new PairingTokenRejected('wrong_security_token', 'the SecurityToken does not match the token');
    }
    const phone = await this.enrollments.enrollmentState(sub);
    if (phone === undefined || !phone.enabled) {
      throw new PairingTokenRejected('phone_not_enrolled', 'the phone that requested the token is no longer enrolled');
    }
    const expiresAt = new Date(exp * 1000);
    if (!(await this.replays.claim(jti, expiresAt, now))) {
      throw new PairingTokenRejected('replayed', 'the token was already used');
    }
    return { tokenId: jti, phoneEnrollmentId: sub, watchUdid: watch_udid, issuedAt: new Date(iat * 1000), expiresAt };
  }
}
