import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { DataSource } from 'typeorm';
import { startTestApp } from './test-app.js';
import type { TestApp } from './test-app.js';
import { createTestDatabase, directView } from './test-db.js';
import type { TestDatabase } from './test-db.js';

/**
 * A TCP proxy in front of the database, to take it "down" in the two ways networks fail:
 * `down()` refuses (connections reset, new ones refused), `blackHole()` goes silent
 * (connections stay open and are accepted, but nothing is forwarded either way, as when
 * packets are dropped). `up()` restores it.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private silent = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async up(): Promise<void> {
    if (this.silent) {
      // The black-holed connections are dead to both ends: cut them, as a firewall timeout would.
      this.silent = false;
      this.destroyAll();
    }
    if (this.server !== undefined) return;
    this.server = createServer((client) => {
      this.track(client);
      if (this.silent) {
        swallow(client);
        return;
      }
      const upstream = connect(this.targetPort, this.targetHost);
      this.track(upstream);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
    const addr = this.server.address();
    if (typeof addr === 'object' && addr !== null) this.port = addr.port;
  }

  async down(): Promise<void> {
    this.silent = false;
    this.destroyAll();
    const server = this.server;
    this.server = undefined;
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  /** Keeps every connection open and accepts new ones, but from now on forwards nothing. */
  blackHole(): void {
    this.silent = true;
    for (const s of this.sockets) {
      s.unpipe();
      swallow(s);
    }
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => s.destroy());
  }

  private destroyAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

/** Reads and drops whatever arrives, never answering. */
function swallow(s: Socket): void {
  s.on('data', () => undefined);
  s.resume();
}

/** The app on a fresh MySQL database reached through a {@link TcpProxy}, and a direct view of that database. */
export interface ProxiedApp {
  readonly t: TestApp;
  readonly proxy: TcpProxy;
  readonly db: TestDatabase;
  /** Reads the database without the proxy, whatever state the proxy is in. */
  readonly direct: DataSource;
  close(): Promise<void>;
}

export async function startBehindProxy(env: Record<string, string> = {}): Promise<ProxiedApp> {
  const db = await createTestDatabase();
  const target = new URL(db.url);
  const proxy = new TcpProxy(target.hostname, Number(target.port || 3306));
  await proxy.up();
  const viaProxy = new URL(db.url);
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  const t = await startTestApp({ DATABASE_URL: viaProxy.toString(), ...env }, { ...db, url: viaProxy.toString() });
  const direct = await directView(db);
  return {
    t,
    proxy,
    db,
    direct,
    close: async () => {
      await proxy.up(); // let the pool say goodbye if a test left the database cut off
      await t.close();
      await proxy.down();
      await direct.destroy();
      await db.drop();
    },
  };
}
