import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How the test's "device" and its fake directory build a DigestResponse. Apple does not
 * publish the device's algorithm; a real directory check knows it, this stand-in only has to
 * depend on the password and the challenge.
 */
export function digestFor(shortName: string, password: string, challenge: string): string {
  return createHmac('sha256', password).update(`${shortName}:${challenge}`).digest('hex');
}

export interface FakeDirectory {
  readonly url: string;
  /** Every bind request it received, in order. */
  readonly binds: { user: string; challenge: string; response: string }[];
  close(): Promise<void>;
}

/** A directory on 127.0.0.1 speaking the bind protocol of http-directory-authenticator.ts. */
export async function startFakeDirectory(passwords: Record<string, string>): Promise<FakeDirectory> {
  const binds: FakeDirectory['binds'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/bind') {
        res.writeHead(405).end();
        return;
      }
      const bind = JSON.parse(body) as { user: string; challenge: string; response: string };
      binds.push(bind);
      const password = passwords[bind.user];
      if (password === undefined) res.writeHead(404).end();
      else if (bind.response === digestFor(bind.user, password, bind.challenge)) res.writeHead(200).end();
      else res.writeHead(401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    binds,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
