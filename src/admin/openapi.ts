import { HttpException } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { OpenAPIObject, PathItemObject } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { stringify } from 'yaml';
import type { AppConfig } from '../config/config.js';
import { ADMIN_SECURITY } from './admin.responses.js';
import { ApiKeyGuard } from './api-key.guard.js';

/** Where the document and its UI are served (behind the admin key). */
export const OPENAPI_JSON_PATH = '/api/openapi.json';
export const OPENAPI_UI_PATH = '/api/docs';
/** The version of this API description; keep it equal to package.json's version. */
export const API_VERSION = '0.1.0';

const DESCRIPTION = `Every HTTP route the server answers, generated from the code (\`npm run openapi\`).

- **Device endpoints** (\`/checkin\`, \`/mdm\`): Apple devices send check-in messages as property lists.
  Answers are 200 (empty, or an XML plist), 4xx when the message is wrong, 5xx when the server is at
  fault (the device retries later). They never answer 401, which can make a device unenroll. Every
  message must prove the device's identity (\`Mdm-Signature\`, or a client certificate forwarded by
  the proxy; see DEVICE_AUTH).
- **Probes** (\`/healthz\`, \`/readyz\`) for Kubernetes, in @nestjs/terminus' answer shape.
- **Admin API** (\`/api/...\`): JSON views of devices and enrollments for administrators, behind
  \`Authorization: Bearer <ADMIN_API_KEY>\`. Without ADMIN_API_KEY every \`/api\` route answers 404.
  Secret values (unlock token, bootstrap token) are never returned; only whether one is held.

TLS is terminated in front of the server, which speaks plain HTTP.`;

/** The two routes SwaggerModule serves outside Nest's router, described by hand. */
function docsPaths(): Record<string, PathItemObject> {
  const security = [{ [ADMIN_SECURITY]: [] }];
  const common = {
    '401': {
      description: 'The `Authorization` header is missing, not `Bearer <key>`, or carries a wrong key.',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/HttpError' } } },
    },
    '404': {
      description: 'The admin API is disabled (ADMIN_API_KEY not set), or API_DOCS=off.',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/HttpError' } } },
    },
  };
  return {
    [OPENAPI_JSON_PATH]: {
      get: {
        tags: ['admin'],
        operationId: 'getOpenApiDocument',
        summary: 'This document, as JSON',
        description: 'Served unless API_DOCS=off.',
        security,
        responses: {
          '200': {
            description: 'The OpenAPI document.',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
          ...common,
        },
      },
    },
    [OPENAPI_UI_PATH]: {
      get: {
        tags: ['admin'],
        operationId: 'getApiDocsUi',
        summary: 'Swagger UI for this document',
        description:
          'An HTML page, with its scripts and styles under `/api/docs/`; every one of them needs the admin key too ' +
          '(a browser needs a tool that adds the header). Served unless API_DOCS=off.',
        security,
        responses: {
          '200': { description: 'The UI page.', content: { 'text/html': { schema: { type: 'string' } } } },
          ...common,
        },
      },
    },
  };
}

/** Sorted copy of an object's keys, so the document does not depend on registration order. */
function sorted<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The OpenAPI document of the application, from its controllers' and DTOs' decorators. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('MDM check-in server')
    .setDescription(DESCRIPTION)
    .setVersion(API_VERSION)
    .setLicense('Apache-2.0', 'https://www.apache.org/licenses/LICENSE-2.0')
    .addServer('/', 'This server, behind the TLS-terminating proxy in front of it')
    .addTag('check-in', 'Apple MDM check-in protocol (device-facing)')
    .addTag('health', 'Liveness and readiness probes')
    .addTag('admin', 'Inspection API for administrators, and this document')
    .addSecurity(ADMIN_SECURITY, {
      type: 'http',
      scheme: 'bearer',
      description:
        '`Authorization: Bearer <ADMIN_API_KEY>` (the key from the environment, at least 16 characters), compared ' +
        'in constant time. A missing or wrong key is 401; when ADMIN_API_KEY is not set at all, every admin route ' +
        'is 404 whatever the header.',
    })
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (_controller, method) => method,
  });
  document.paths = sorted({ ...document.paths, ...docsPaths() });
  if (document.components?.schemas !== undefined) document.components.schemas = sorted(document.components.schemas);
  return document;
}

/** The document as docs/openapi.yaml holds it. */
export function openApiYaml(document: OpenAPIObject): string {
  return `# Generated from the code by \`npm run openapi\`; do not edit (a test compares it with the code).\n${stringify(document, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

/**
 * Serves the document at /api/openapi.json and Swagger UI at /api/docs (unless API_DOCS=off).
 * SwaggerModule registers them on Express directly, outside Nest's guards, so the admin key
 * is checked by a middleware placed in front of them that applies the admin API's own guard.
 */
export function setupApiDocs(app: NestExpressApplication, config: AppConfig): void {
  if (!config.apiDocs) return;
  const guard = app.get(ApiKeyGuard, { strict: false });
  const requireKey = (req: Request, res: Response, next: NextFunction): void => {
    try {
      guard.check(req.headers.authorization);
      next();
    } catch (err) {
      if (!(err instanceof HttpException)) {
        next(err);
        return;
      }
      res.status(err.getStatus()).json(err.getResponse());
    }
  };
  app.use(OPENAPI_JSON_PATH, requireKey);
  app.use(OPENAPI_UI_PATH, requireKey);
  let document: OpenAPIObject | undefined;
  SwaggerModule.setup(OPENAPI_UI_PATH, app, () => (document ??= buildOpenApiDocument(app)), {
    jsonDocumentUrl: OPENAPI_JSON_PATH,
    raw: ['json'],
    customSiteTitle: 'MDM check-in server API',
  });
}
