import { Inject, Injectable, Optional } from '@nestjs/common';
import { validateSync } from 'class-validator';
import type { ValidationError } from 'class-validator';
import { CheckinError, CheckinErrorCode } from './checkin.errors.js';
import { CheckinHandlerRegistry } from './checkin-handler.registry.js';
import type { CheckinCertificate } from './checkin-identity.js';
import { CHECKIN_MIDDLEWARE } from './checkin.types.js';
import type { CheckinContext, CheckinMiddleware, CheckinResult } from './checkin.types.js';
import { EnrollmentIdError, resolveEnrollment } from './enrollment-id.js';
import { decodePlist, isPlistDict, PlistDecodeError } from './plist/plist-decoder.js';
import type { PlistDict } from './plist/plist-decoder.js';

/** Every MessageType Apple documents for the check-in protocol. */
export const APPLE_MESSAGE_TYPES: ReadonlySet<string> = new Set([
  'Authenticate',
  'TokenUpdate',
  'CheckOut',
  'UserAuthenticate',
  'SetBootstrapToken',
  'GetBootstrapToken',
  'GetToken',
  'DeclarativeManagement',
  'ReturnToService',
]);

export interface DispatchInput {
  readonly rawBody: Buffer;
  readonly requestId: string;
  readonly receivedAt: Date;
  readonly certificate: CheckinCertificate | null;
  /** Filled as the request goes; the controller logs it whatever the outcome. */
  readonly logFields: Record<string, unknown>;
}

/**
 * The check-in pipeline after the body is read: decode, find the handler, validate the
 * whole message, resolve the enrollment, then middleware and handler. Nothing is written
 * before validation has passed.
 */
@Injectable()
export class CheckinDispatcher {
  private readonly middleware: readonly CheckinMiddleware[];

  constructor(
    @Inject(CheckinHandlerRegistry) private readonly registry: CheckinHandlerRegistry,
    @Optional() @Inject(CHECKIN_MIDDLEWARE) middleware?: CheckinMiddleware[],
  ) {
    this.middleware = middleware ?? [];
  }

  async dispatch(input: DispatchInput): Promise<CheckinResult> {
    const body = this.decode(input.rawBody);
    const messageType = body.MessageType;
    if (messageType === undefined) {
      throw new CheckinError(CheckinErrorCode.MissingMessageType, 'the message has no MessageType');
    }
    if (typeof messageType !== 'string') {
      throw new CheckinError(CheckinErrorCode.MissingMessageType, 'MessageType must be a string');
    }
    input.logFields.messageType = messageType.slice(0, 64);
    const registered = this.registry.get(messageType);
    if (registered === undefined) {
      if (APPLE_MESSAGE_TYPES.has(messageType)) {
        throw new CheckinError(
          CheckinErrorCode.UnsupportedMessageType,
          `MessageType ${messageType} is not supported by this server`,
        );
      }
      throw new CheckinError(CheckinErrorCode.UnknownMessageType, `unknown MessageType "${messageType.slice(0, 64)}"`);
    }

    const message = Object.assign(new registered.dto(), body);
    // Every constraint of the check-in DTOs is synchronous: validateSync gives the same answer
    // without a promise per property.
    const errors = validateSync(message, { forbidUnknownValues: true, validationError: { target: false } });
    if (errors.length > 0) {
      throw new CheckinError(CheckinErrorCode.InvalidMessage, `${messageType}: ${describe(errors)}`);
    }

    let enrollment;
    try {
      enrollment = resolveEnrollment(body);
    } catch (err) {
      if (err instanceof EnrollmentIdError) {
        throw new CheckinError(CheckinErrorCode.InvalidIdentity, `${messageType}: ${err.message}`);
      }
      throw err;
    }
    input.logFields.enrollmentId = enrollment.id;
    input.logFields.enrollmentType = enrollment.type;
    if (enrollment.ignoredEnrollmentId !== undefined) {
      input.logFields.warning = 'the message carries both UDID and EnrollmentID: the enrollment is keyed by UDID';
      input.logFields.ignoredEnrollmentId = enrollment.ignoredEnrollmentId;
    }
    if (!registered.channels.has(enrollment.channel)) {
      throw new CheckinError(
        CheckinErrorCode.UserChannelNotSupported,
        `${messageType} on a ${enrollment.channel} channel is not supported`,
      );
    }

    const ctx: CheckinContext = {
      messageType,
      enrollment,
      rawBody: input.rawBody,
      requestId: input.requestId,
      receivedAt: input.receivedAt,
      certificate: input.certificate,
      logFields: input.logFields,
      foldsWriteGuard: registered.foldsWriteGuard.has(enrollment.channel),
    };
    const chain = this.middleware.reduceRight<() => Promise<CheckinResult>>(
      (next, mw) => () => mw.handle(message, ctx, next),
      () => registered.handler.handle(message, ctx),
    );
    return chain();
  }

  private decode(raw: Buffer): PlistDict {
    if (raw.length === 0) throw new CheckinError(CheckinErrorCode.MalformedPlist, 'the body is empty');
    let value;
    try {
      value = decodePlist(raw);
    } catch (err) {
      if (err instanceof PlistDecodeError) {
        throw new CheckinError(CheckinErrorCode.MalformedPlist, `the body is not a valid plist: ${err.message}`);
      }
      throw err;
    }
    if (!isPlistDict(value)) {
      throw new CheckinError(CheckinErrorCode.NotADictionary, 'the plist must be a dictionary');
    }
    return value;
  }
}

function describe(errors: ValidationError[], prefix = ''): string {
  const parts: string[] = [];
  for (const e of errors) {
    for (const text of Object.values(e.constraints ?? {})) parts.push(`${prefix}${text}`);
    if (e.children && e.children.length > 0) parts.push(describe(e.children, `${prefix}${e.property}.`));
  }
  return parts.join('; ');
}
