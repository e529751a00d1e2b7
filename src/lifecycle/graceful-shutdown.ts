import { Inject, Injectable } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { AppLogger } from '../logging/app-logger.js';

/**
 * On SIGTERM the HTTP server stops accepting connections and waits for requests in flight.
 * A keep-alive connection that finishes its request afterwards would otherwise hold the
 * process until its idle timeout; this closes such connections as soon as they are idle.
 */
@Injectable()
export class GracefulShutdown implements BeforeApplicationShutdown, OnApplicationShutdown {
  constructor(
    @Inject(HttpAdapterHost) private readonly host: HttpAdapterHost,
    @Inject(AppLogger) private readonly logger: AppLogger,
  ) {}

  beforeApplicationShutdown(signal?: string): void {
    this.logger.emit('info', 'shutting down: no new connections, finishing requests in flight', {
      signal: signal ?? 'close',
    });
    const server = this.host.httpAdapter?.getHttpServer() as Server | undefined;
    if (server === undefined) return;
    const timer = setInterval(() => server.closeIdleConnections(), 100);
    timer.unref();
    server.once('close', () => clearInterval(timer));
  }

  onApplicationShutdown(signal?: string): void {
    this.logger.emit('info', 'shut down', { signal: signal ?? 'close' });
  }
}
