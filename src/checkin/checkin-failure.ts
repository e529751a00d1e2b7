import { SecretDecryptionError } from '../common/secret-box.js';
import { isDatabaseUnavailable } from '../database/database.service.js';
import { CheckinError, CheckinErrorCode } from './checkin.errors.js';

export interface CheckinFailure {
  readonly status: number;
  readonly code: CheckinErrorCode;
  /** Short, safe text for the device. */
  readonly deviceText: string;
  /** Details for the log (never secrets). */
  readonly logReason: string;
  readonly stack?: string;
  /** The log level when not the one the status implies. */
  readonly logLevel?: 'info';
  /** Set when the device's identity was refused: why, as a fixed code (log and metrics). */
  readonly identityRefusal?: string;
}

/**
 * The one place where a failed check-in becomes an HTTP status: coded errors keep theirs,
 * an unreachable database is 503 (the device retries later), anything else is our bug: 500.
 * Never 401.
 */
export function mapCheckinFailure(err: unknown): CheckinFailure {
  if (err instanceof CheckinError) {
    const failure = {
      status: err.status,
      code: err.code,
      deviceText: err.message,
      logReason: err.message,
      ...(err.identityRefusal !== undefined ? { identityRefusal: err.identityRefusal } : {}),
    };
    return err.code === CheckinErrorCode.ClientAborted ? { ...failure, logLevel: 'info' } : failure;
  }
  if (err instanceof SecretDecryptionError) {
    // Our configuration, not the device: 5xx so it retries, and a log line that says what to fix.
    return {
      status: 500,
      code: CheckinErrorCode.SecretUnreadable,
      deviceText: 'Internal Server Error',
      logReason: `${err.message}; ${err.hint}`,
    };
  }
  const reason = err instanceof Error ? err.message : String(err);
  const stack = err instanceof Error ? err.stack : undefined;
  if (isDatabaseUnavailable(err)) {
    return {
      status: 503,
      code: CheckinErrorCode.DatabaseUnavailable,
      deviceText: 'Service Unavailable: try again later',
      logReason: reason,
    };
  }
  return {
    status: 500,
    code: CheckinErrorCode.Internal,
    deviceText: 'Internal Server Error',
    logReason: reason,
    ...(stack !== undefined ? { stack } : {}),
  };
}
