import type { CheckinCertificate } from './checkin-identity.js';
import type { WriteGuard } from '../common/write-guard.js';
import type { ResolvedEnrollment } from './enrollment-id.js';

/** What a handler returns: a status and, optionally, a plist (or JSON) body. */
export interface CheckinResult {
  readonly status: number;
  /** Encoded as an XML plist dictionary. */
  readonly plist?: Record<string, unknown>;
  /** Sent as `application/json` (DeclarativeManagement only). */
  readonly json?: unknown;
}

export const OK: CheckinResult = Object.freeze({ status: 200 });

/** Everything known about the request besides the message itself. */
export interface CheckinContext {
  readonly messageType: string;
  readonly enrollment: ResolvedEnrollment;
  /** The body exactly as received; signatures are computed over it. */
  readonly rawBody: Buffer;
  readonly requestId: string;
  readonly receivedAt: Date;
  /** The device's verified identity certificate; `null` only when DEVICE_AUTH=none. */
  readonly certificate: CheckinCertificate | null;
  /** Set by handlers and middleware; added to the request's log line. Never secrets. */
  readonly logFields: Record<string, unknown>;
  /** Whether the handler was registered with `foldsWriteGuard` (see {@link WriteGuard}). */
  readonly foldsWriteGuard: boolean;
  /** Set by a middleware for a handler that folds it; see {@link WriteGuard}. */
  writeGuard?: WriteGuard;
}

export interface CheckinMessageHandler<M extends object = object> {
  handle(message: M, ctx: CheckinContext): Promise<CheckinResult>;
}

/**
 * Cross-cutting behaviour around every handler (certificate binding, audit, webhooks).
 * Registered once, in order, in `CHECKIN_MIDDLEWARE`; never copied into handlers.
 */
export interface CheckinMiddleware {
  readonly name: string;
  handle(message: object, ctx: CheckinContext, next: () => Promise<CheckinResult>): Promise<CheckinResult>;
}

export const CHECKIN_MIDDLEWARE = Symbol('CHECKIN_MIDDLEWARE');
