import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationShutdown } from '@nestjs/common';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConfigType } from '@nestjs/config';
import { metricsConfig } from '../config/namespaces.js';
import { AppLogger } from '../logging/app-logger.js';
import { MetricsService } from './metrics.service.js';

/**
 * `GET /metrics` for Prometheus on METRICS_PORT, a plain node:http server of its own: never on
 * the device port (devices and the internet do not see it), bound to the same HOST. Started by
 * whoever starts the app, once the device port listens (main.ts); closed on shutdown.
 */
@Injectable()
export class MetricsServer implements OnApplicationShutdown {
  private server: Server | undefined;

  constructor(
    @Inject(metricsConfig.KEY) private readonly config: ConfigType<typeof metricsConfig>,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(AppLogger) private readonly logger: AppLogger,
  ) {}

  /** Listens on METRICS_PORT; does nothing when it is unset. Rejects when the port cannot be bound. */
  async listen(): Promise<void> {
    const port = this.config.port;
    if (port === undefined || this.server !== undefined) return;
    const server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, ...(this.config.host !== undefined ? { host: this.config.host } : {}) }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const address = this.address();
    this.logger.emit('info', 'metrics listening', { address: address?.address, port: address?.port, path: '/metrics' });
  }

  /** Where it listens; undefined when it does not. */
  address(): AddressInfo | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address : undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A scraper's keep-alive connection would otherwise hold the process until it times out.
    server.closeAllConnections();
    await closed;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Method Not Allowed\n');
      return;
    }
    try {
      const body = await this.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      this.logger.emit('error', 'metrics scrape failed', { reason: err instanceof Error ? err.message : String(err) });
      res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error\n');
    }
  }
}
