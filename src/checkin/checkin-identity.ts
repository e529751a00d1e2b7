import type { IncomingHttpHeaders } from 'node:http';

/** A device's identity certificate, verified by whoever provides {@link CheckinIdentity}. */
export interface CheckinCertificate {
  /** SHA-256 of the DER, lower-case hex: the key of a binding. */
  readonly fingerprint: string;
  readonly subject: string;
  readonly notAfter: Date;
  /** The names the certificate gives its subject, for rules that match them to the device. */
  readonly names: readonly string[];
}

/**
 * Who sent a check-in, established before a byte of the body is decoded. The check-in module
 * defines what it needs; the application wires the device-identity module in (AppModule), so
 * neither module imports the other. A refusal is thrown as a CheckinError (400 or 403).
 */
export interface CheckinIdentity {
  /** The verified certificate, or `null` when the deployment does not check identities. */
  identify(headers: IncomingHttpHeaders, body: Buffer): Promise<CheckinCertificate | null>;
}

export const CHECKIN_IDENTITY = Symbol('CHECKIN_IDENTITY');
