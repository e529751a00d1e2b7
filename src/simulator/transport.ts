// How simulated devices reach the server: one keep-alive HTTP agent for all of them, and the
// identity each message carries (Mdm-Signature, a proxy-style certificate header, or none).
import http from 'node:http';
import https from 'node:https';
import { signDetached } from '../device-identity/cms-signer.js';
import type { DeviceIdentity } from '../device-identity/dev-ca.js';

export const CHECKIN_CONTENT_TYPE = 'application/x-apple-aspen-mdm-checkin';

/** How a message proves which device sent it; mirrors the server's DEVICE_AUTH. */
export type IdentityMode =
  { readonly kind: 'signature' } | { readonly kind: 'header'; readonly header: string } | { readonly kind: 'none' };

/** The identity headers of one message: `Mdm-Signature` over the exact body, or the RFC 9440 certificate header. */
export async function identityHeaders(
  mode: IdentityMode,
  body: Buffer,
  identity: DeviceIdentity | undefined,
): Promise<Record<string, string>> {
  if (mode.kind === 'none' || identity === undefined) return {};
  if (mode.kind === 'header') return { [mode.header]: certificateHeaderValue(identity.certDer) };
  return { 'mdm-signature': await signDetached(body, identity.certDer, identity.key) };
}

/** RFC 9440 `Client-Cert` value: `:<base64 DER>:`. */
export function certificateHeaderValue(certDer: Buffer): string {
  return `:${certDer.toString('base64')}:`;
}

export interface CheckinReply {
  readonly status: number;
  readonly body: Buffer;
  /** Wall time from sending the request to the end of the response, in milliseconds. */
  readonly ms: number;
}

/** The check-in URL for `--url`: a bare origin means its `/checkin`. */
export function checkinUrl(raw: string): URL {
  const url = new URL(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--url must be http(s), got ${raw}`);
  if (url.pathname === '' || url.pathname === '/') url.pathname = '/checkin';
  return url;
}

/** Sends check-ins over a bounded pool of keep-alive connections. */
export class CheckinClient {
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;

  constructor(
    readonly url: URL,
    maxSockets: number,
    private readonly timeoutMs = 30_000,
    private readonly userAgent = 'MDM/1.0',
  ) {
    const secure = url.protocol === 'https:';
    this.transport = secure ? https : http;
    this.agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets })
      : new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  send(body: Buffer, headers: Record<string, string> = {}): Promise<CheckinReply> {
    const started = performance.now();
    return new Promise<CheckinReply>((resolve, reject) => {
      const req = this.transport.request(
        this.url,
        {
          method: 'PUT',
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: {
            'content-type': CHECKIN_CONTENT_TYPE,
            'content-length': String(body.length),
            'user-agent': this.userAgent,
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - started }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
