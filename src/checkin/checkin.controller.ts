import { Controller, Inject, Post, Put, Req, Res } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import type { ConfigType } from '@nestjs/config';
import { checkinConfig } from '../config/namespaces.js';
import { AppLogger } from '../logging/app-logger.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CheckinDispatcher } from './checkin.dispatcher.js';
import { ApiCheckin, CHECKIN_CONTENT_TYPE } from './checkin.openapi.js';
import { CheckinError, CheckinErrorCode } from './checkin.errors.js';
import { mapCheckinFailure } from './checkin-failure.js';
import { CHECKIN_IDENTITY } from './checkin-identity.js';
import type { CheckinIdentity } from './checkin-identity.js';
import type { CheckinResult } from './checkin.types.js';
import { resolveEnrollment } from './enrollment-id.js';
import { encodePlist } from './plist/plist-encoder.js';
import { peekIdentityKeys } from './plist/plist-peek.js';
import { readBody } from './read-body.js';

const CHECKIN_DESCRIPTION =
  'Apple’s documented method. The body is decoded as an XML plist, or as a binary plist when it starts with ' +
  '`bplist00`. Message types with a handler: Authenticate, SetBootstrapToken, GetBootstrapToken (device ' +
  'channel); TokenUpdate, CheckOut, GetToken (device and user channels); UserAuthenticate (macOS user ' +
  'channels). Other message types get 400.';
const MDM_DESCRIPTION =
  `When the Content-Type starts with \`${CHECKIN_CONTENT_TYPE}\` (case-insensitive), the request is handled ` +
  'exactly like `PUT /checkin` (for profiles without a CheckInURL). Any other Content-Type, or none, is the MDM ' +
  'command connection, which is not implemented yet: 501, without reading the body.';
const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The device-facing endpoint. Devices send check-ins to CheckInURL (`/checkin` here), or to
 * ServerURL (`/mdm`) with the check-in content type when the profile has no CheckInURL.
 * Every answer is one of: 200 with an optional body, 4xx for the device's mistakes,
 * 5xx for ours. Never 401: some devices unenroll on it.
 */
@Controller()
export class CheckinController {
  constructor(
    @Inject(CheckinDispatcher) private readonly dispatcher: CheckinDispatcher,
    @Inject(checkinConfig.KEY) private readonly config: ConfigType<typeof checkinConfig>,
    @Inject(AppLogger) private readonly logger: AppLogger,
    @Inject(CHECKIN_IDENTITY) private readonly identity: CheckinIdentity,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  @Put('checkin')
  @ApiCheckin(
    {
      operationId: 'checkinPut',
      summary: 'Check-in message (the profile’s CheckInURL)',
      description: CHECKIN_DESCRIPTION,
    },
    false,
  )
  async checkinPut(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.serve(req, res);
  }

  /** Apple documents PUT; some proxies and older tooling send POST. */
  @Post('checkin')
  @ApiCheckin(
    {
      operationId: 'checkinPost',
      summary: 'Check-in message sent with POST',
      description: 'Same as `PUT /checkin`; for proxies and older tooling that send POST.',
    },
    false,
  )
  async checkinPost(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.serve(req, res);
  }

  @Put('mdm')
  @ApiCheckin(
    { operationId: 'mdmPut', summary: 'ServerURL; check-in messages only for now', description: MDM_DESCRIPTION },
    true,
  )
  async mdmPut(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.mdm(req, res);
  }

  @Post('mdm')
  @ApiCheckin(
    {
      operationId: 'mdmPost',
      summary: 'ServerURL with POST; check-in messages only for now',
      description: 'Same as `PUT /mdm`.',
    },
    true,
  )
  async mdmPost(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.mdm(req, res);
  }

  /**
   * A check-in (or a request to /mdm) as Node's HTTP server hands it over: the routes above and
   * the lane that bypasses Express's router (checkin-lane.ts) both end here. Only Node's own
   * request and response API is used, so either way the answer is the same.
   */
  async handle(req: IncomingMessage, res: ServerResponse, path: 'checkin' | 'mdm'): Promise<void> {
    await (path === 'checkin' ? this.serve(req, res) : this.mdm(req, res));
  }

  private async mdm(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = req.headers['content-type'] ?? '';
    if (type.toLowerCase().startsWith(CHECKIN_CONTENT_TYPE)) {
      await this.serve(req, res);
      return;
    }
    req.resume();
    const requestId = requestIdOf(req);
    res.setHeader('X-Request-Id', requestId);
    sendText(res, 501, 'Not Implemented: the MDM command endpoint is not available yet\n');
    // A device polling for commands here means its profile points at a command server this
    // deployment does not have: the operator needs to see that.
    this.logger.emit('warn', 'mdm', {
      requestId,
      method: req.method,
      status: 501,
      contentType: type.slice(0, 100),
      reason: 'not a check-in, and the MDM command endpoint is not available',
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = requestIdOf(req);
    const logFields: Record<string, unknown> = { requestId };
    res.setHeader('X-Request-Id', requestId);
    let status: number;
    let logLevel: 'info' | undefined;
    let identityRefusal: string | undefined;
    try {
      const rawBody = await readBody(req, this.config.maxBodyBytes);
      if (rawBody.length === 0) throw new CheckinError(CheckinErrorCode.MalformedPlist, 'the body is empty');
      // Who sent it, before a byte of the body is decoded.
      const certificate = await this.identity.identify(req.headers, rawBody).catch((err: unknown) => {
        // The log names who the refused message claimed to be. Anyone can send this body, so
        // it is only peeked at (a bounded read), never decoded.
        const claimed = claimedEnrollmentId(rawBody);
        if (claimed !== undefined) logFields.claimedEnrollmentId = claimed;
        throw err;
      });
      const result = await this.dispatcher.dispatch({
        rawBody,
        requestId,
        receivedAt: new Date(),
        certificate,
        logFields,
      });
      status = result.status;
      send(res, result);
    } catch (err) {
      const failure = mapCheckinFailure(err);
      status = failure.status;
      logFields.error = failure.code;
      logFields.reason = failure.logReason;
      if (failure.stack !== undefined) logFields.stack = failure.stack;
      logLevel = failure.logLevel;
      identityRefusal = failure.identityRefusal;
      if (identityRefusal !== undefined) logFields.identityRefusal = identityRefusal;
      if (status === 413) res.setHeader('Connection', 'close');
      if (status === 503) res.setHeader('Retry-After', '30');
      sendText(res, status, `${failure.deviceText}\n`);
    }
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    this.metrics.checkin(logFields.messageType, status, durationMs / 1000, identityRefusal);
    // A handled message can still deserve an operator's look: it says so in `warning`.
    const level =
      logLevel ?? (status >= 500 ? 'error' : status >= 400 || logFields.warning !== undefined ? 'warn' : 'info');
    this.logger.emit(level, 'checkin', { status, durationMs: Math.round(durationMs * 100) / 100, ...logFields });
  }
}

/** The caller's X-Request-Id when it is a sane one, else a new id. */
function requestIdOf(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID_RE.test(header) ? header : randomUUID();
}

/** The enrollment id a body claims, for logs only; undefined when the peek cannot tell. */
function claimedEnrollmentId(body: Buffer): string | undefined {
  try {
    return resolveEnrollment(peekIdentityKeys(body)).id;
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, result: CheckinResult): void {
  if (result.plist !== undefined) {
    sendBody(res, result.status, 'application/xml; charset=utf-8', encodePlist(result.plist));
  } else if (result.json !== undefined) {
    sendBody(res, result.status, 'application/json; charset=utf-8', JSON.stringify(result.json));
  } else {
    res.statusCode = result.status;
    res.end();
  }
}

function sendText(res: ServerResponse, status: number, text: string): void {
  sendBody(res, status, 'text/plain; charset=utf-8', text);
}

function sendBody(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}
