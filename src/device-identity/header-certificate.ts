import { IdentityError } from './certificate-verifier.js';

export const MAX_CERT_HEADER_CHARS = 32 * 1024;

/**
 * The client certificate a trusted TLS-terminating proxy forwards, in either common form:
 * RFC 9440 `Client-Cert: :<base64 DER>:`, or the URL-escaped PEM of nginx's
 * `$ssl_client_escaped_cert` (and Envoy/HAProxy set-ups that copy it). Returns the DER.
 */
export function certificateFromHeader(raw: string): Buffer {
  if (raw.length > MAX_CERT_HEADER_CHARS) throw new IdentityError(400, 'the client certificate header is too large');
  const value = raw.trim();
  if (value.startsWith(':') && value.endsWith(':') && value.length > 2) {
    const b64 = value.slice(1, -1);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64))
      throw new IdentityError(400, 'the client certificate header is not valid base64');
    return Buffer.from(b64, 'base64');
  }
  let pem = value;
  if (/%[0-9A-Fa-f]{2}/.test(value)) {
    try {
      pem = decodeURIComponent(value);
    } catch {
      throw new IdentityError(400, 'the client certificate header is not valid URL-escaped PEM');
    }
  }
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (m?.[1] === undefined) {
    throw new IdentityError(400, 'the client certificate header is neither RFC 9440 (:base64:) nor URL-escaped PEM');
  }
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}
