import {
  BadRequestException,
  Controller,
  HttpCode,
  Inject,
  NotFoundException,
  Post,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConsumes,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiAdminCommon, HttpErrorBody } from '../admin/admin.responses.js';
import { ApiKeyGuard } from '../admin/api-key.guard.js';
import { CheckinError } from '../checkin/checkin.errors.js';
import { readBody } from '../checkin/read-body.js';
import { AppLogger } from '../logging/app-logger.js';
import { WatchPairingAccepted, WatchPairingRefused, WatchPairingVerifyRequest } from './watch-pairing.dto.js';
import { PairingTokenRejected, WatchPairingTokenService } from './watch-pairing.token-service.js';

const MAX_BODY = 16 * 1024;

/**
 * For the watch's MDM server (this service, or another instance of the organisation sharing
 * the verification key): is this pairing token genuine, fresh, for this watch and security
 * token, from a phone still enrolled — and unused? A successful check consumes the token.
 */
@ApiTags('admin')
@ApiAdminCommon()
@Controller('api/v1/tokens/watch-pairing')
@UseGuards(ApiKeyGuard)
export class WatchPairingController {
  constructor(
    @Inject(WatchPairingTokenService) private readonly pairing: WatchPairingTokenService,
    @Inject(AppLogger) private readonly logger: AppLogger,
  ) {}

  @Post('verify')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'verifyWatchPairingToken',
    summary: 'Check (and consume) an Apple Watch pairing token',
    description:
      'For the watch’s MDM server: the token a managed iPhone obtained with GetToken (`com.apple.watch.pairing`) ' +
      'is checked for a known signing key (`kid`), this organisation’s issuer, expiry, the watch UDID and ' +
      'SecurityToken it was issued for, and a phone enrollment that is still enabled. A token is accepted once: ' +
      'a successful check records its id until it expires. A refused token is not consumed.',
  })
  @ApiConsumes('application/json')
  @ApiBody({ type: WatchPairingVerifyRequest, description: `JSON, at most ${MAX_BODY} bytes.` })
  @ApiOkResponse({
    description: 'The token is genuine, fresh and unused; it is now consumed.',
    type: WatchPairingAccepted,
  })
  @ApiBadRequestResponse({
    description: 'The body is not `{ token, watchUdid, securityToken }` JSON, or is too large.',
    type: HttpErrorBody,
  })
  @ApiForbiddenResponse({ description: 'The token is refused.', type: WatchPairingRefused })
  @ApiNotFoundResponse({
    description: 'The admin API is disabled (ADMIN_API_KEY not set), or this instance has no watch pairing key.',
    type: HttpErrorBody,
  })
  async verify(@Req() req: Request, @Res() res: Response): Promise<void> {
    if (!this.pairing.canVerify) {
      throw new NotFoundException(
        'watch pairing is not configured: set WATCH_PAIRING_KEY_FILE or WATCH_PAIRING_VERIFY_KEYS_FILE',
      );
    }
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req, MAX_BODY)).toString('utf8'));
    } catch (err) {
      throw new BadRequestException(err instanceof CheckinError ? err.message : 'the body must be JSON');
    }
    const { token, watchUdid, securityToken } = (typeof body === 'object' && body !== null ? body : {}) as Record<
      string,
      unknown
    >;
    if (
      typeof token !== 'string' ||
      typeof watchUdid !== 'string' ||
      typeof securityToken !== 'string' ||
      token.length > 8192
    ) {
      throw new BadRequestException('the body must be {"token": string, "watchUdid": string, "securityToken": string}');
    }
    try {
      const ok = await this.pairing.verify(token, watchUdid, securityToken);
      this.logger.emit('info', 'watch pairing token accepted', {
        tokenId: ok.tokenId,
        phoneEnrollmentId: ok.phoneEnrollmentId,
        watchUdid,
      });
      res.status(200).json({
        valid: true,
        tokenId: ok.tokenId,
        phoneEnrollmentId: ok.phoneEnrollmentId,
        watchUdid: ok.watchUdid,
        issuedAt: ok.issuedAt.toISOString(),
        expiresAt: ok.expiresAt.toISOString(),
      });
    } catch (err) {
      if (!(err instanceof PairingTokenRejected)) throw err;
      this.logger.emit('warn', 'watch pairing token refused', { reason: err.reason, watchUdid });
      res.status(403).json({ valid: false, reason: err.reason, message: err.message });
    }
  }
}
