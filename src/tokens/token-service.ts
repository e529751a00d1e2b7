import { SetMetadata } from '@nestjs/common';
import type { ResolvedEnrollment } from '../checkin/enrollment-id.js';

export const TOKEN_SERVICE_METADATA = 'mdm:token-service';

/** What a token service gets to decide and mint a token. */
export interface TokenRequest {
  readonly serviceType: string;
  readonly enrollment: ResolvedEnrollment;
  /** GetToken's `TokenParameters` dictionary, when sent. */
  readonly parameters: Readonly<Record<string, unknown>> | undefined;
  readonly now: Date;
  /** Filled for the request's log line; never secrets or tokens. */
  readonly logFields: Record<string, unknown>;
}

/**
 * One GetToken `TokenServiceType`. `enabled` false (not configured) makes GetToken answer
 * 400 naming what to configure; `issue` returns the bytes that go in `TokenData`.
 */
export interface TokenServiceHandler {
  readonly enabled: boolean;
  /** Why the service is off, for the device's 400 and the log. */
  readonly disabledReason?: string;
  issue(request: TokenRequest): Promise<Buffer>;
}

/**
 * Marks a provider as the token service for one `TokenServiceType`, discovered at start-up
 * like check-in handlers; two services for one type stop the start.
 */
export const TokenService = (serviceType: string): ClassDecorator => SetMetadata(TOKEN_SERVICE_METADATA, serviceType);
