import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { PairingRejection } from './watch-pairing.token-service.js';

/** Every refusal code, checked both ways against the service's type at compile time. */
const REJECTIONS = [
  'malformed',
  'unknown_key',
  'bad_signature',
  'wrong_issuer',
  'expired',
  'wrong_watch',
  'wrong_security_token',
  'phone_not_enrolled',
  'replayed',
] as const satisfies readonly PairingRejection[];
type Missing = Exclude<PairingRejection, (typeof REJECTIONS)[number]>;
const everyRejectionListed: [Missing] extends [never] ? true : Missing = true;
void everyRejectionListed;

@ApiSchema({ name: 'WatchPairingVerifyRequest', description: 'A pairing token to check, and what it must be for.' })
export class WatchPairingVerifyRequest {
  @ApiProperty({ maxLength: 8192, description: 'The TokenData the phone received (a compact JWS), as UTF-8 text.' })
  token: string;

  @ApiProperty({ description: 'The UDID of the watch being paired.' })
  watchUdid: string;

  @ApiProperty({ description: 'The SecurityToken the phone sent in its GetToken TokenParameters.' })
  securityToken: string;
}

@ApiSchema({ name: 'WatchPairingAccepted', description: 'The token is genuine, fresh and unused; it is now consumed.' })
export class WatchPairingAccepted {
  @ApiProperty({ type: Boolean, enum: [true] })
  valid: true;

  @ApiProperty({ description: 'The token’s id (`jti`).' })
  tokenId: string;

  @ApiProperty({ description: 'The phone’s enrollment the token was issued to.' })
  phoneEnrollmentId: string;

  @ApiProperty()
  watchUdid: string;

  @ApiProperty({ type: 'string', format: 'date-time' })
  issuedAt: string;

  @ApiProperty({ type: 'string', format: 'date-time' })
  expiresAt: string;
}

@ApiSchema({ name: 'WatchPairingRefused', description: 'The token is refused, and why; it is not consumed.' })
export class WatchPairingRefused {
  @ApiProperty({ type: Boolean, enum: [false] })
  valid: false;

  @ApiProperty({ enum: REJECTIONS, enumName: 'WatchPairingRejection' })
  reason: PairingRejection;

  @ApiProperty({ example: 'the token has expired' })
  message: string;
}
