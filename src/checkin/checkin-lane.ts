import type { INestApplication } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { AppLogger } from '../logging/app-logger.js';
import { CheckinController } from './checkin.controller.js';

/**
 * The check-in endpoints without Express's router in front of them. Every request of every
 * device goes to `PUT /checkin`, and on a 2-core pod the router, its layers and Nest's
 * route wrapper around a handler that reads its own body and writes its own answer cost
 * more CPU than the plist decoder (see docs/performance.md). So PUT and POST to exactly
 * `/checkin` or `/mdm` (with or without a query string) go straight to
 * {@link CheckinController.handle}; everything else, other spellings of those paths
 * included, goes to Express as before and reaches the same method through the controller's
 * routes. The answer is the same either way; only the path through the framework differs.
 */
export function routeCheckinsDirectly(app: INestApplication): void {
  const server = app.getHttpServer() as Server;
  const controller = app.get(CheckinController);
  const logger = app.get(AppLogger);
  const framework = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (framework.length !== 1) {
    throw new Error(`expected one request listener (Express) on the HTTP server, found ${framework.length}`);
  }
  const [express] = framework as [(req: IncomingMessage, res: ServerResponse) => void];
  server.removeListener('request', express);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = checkinPath(req);
    if (path === undefined) {
      express(req, res);
      return;
    }
    // handle() answers every failure itself (a 5xx at worst); this catch only keeps a bug in
    // it from becoming an unhandled rejection.
    controller.handle(req, res, path).catch((err: unknown) => {
      logger.emit('error', 'checkin', {
        status: 500,
        reason: err instanceof Error ? err.message : String(err),
        stack: err instanceof Error ? err.stack : undefined,
      });
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Internal Server Error\n');
    });
  });
}

/** `checkin` or `mdm` for a PUT or POST to exactly that path, else undefined. */
export function checkinPath(req: Pick<IncomingMessage, 'method' | 'url'>): 'checkin' | 'mdm' | undefined {
  if (req.method !== 'PUT' && req.method !== 'POST') return undefined;
  const url = req.url ?? '';
  const end = url.indexOf('?');
  const path = end === -1 ? url : url.slice(0, end);
  return path === '/checkin' ? 'checkin' : path === '/mdm' ? 'mdm' : undefined;
}
