import { HttpException, HttpStatus, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { ConfigType } from '@nestjs/config';
import { adminConfig } from '../config/namespaces.js';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * `Authorization: Bearer <ADMIN_API_KEY>` for the administrators' API. This API is for
 * people and their tools, never devices, so a wrong key is a plain 401. Keys are compared
 * as SHA-256 digests with a constant-time compare, so neither content nor length leaks.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(@Inject(adminConfig.KEY) config: ConfigType<typeof adminConfig>) {
    this.expected = config.apiKey === undefined ? undefined : digest(config.apiKey);
  }

  canActivate(context: ExecutionContext): boolean {
    this.check(context.switchToHttp().getRequest<Request>().headers.authorization);
    return true;
  }

  /**
   * The whole rule, for routes served outside Nest's router too (the OpenAPI UI): throws 404
   * when the admin API is off, 401 when the header does not carry the key.
   */
  check(authorization: string | undefined): void {
    if (this.expected === undefined) {
      throw new HttpException(
        { statusCode: 404, error: 'Not Found', message: 'the admin API is disabled: set ADMIN_API_KEY to enable it' },
        HttpStatus.NOT_FOUND,
      );
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (match?.[1] === undefined || !timingSafeEqual(digest(match[1]), this.expected)) {
      throw new UnauthorizedException('a valid "Authorization: Bearer <ADMIN_API_KEY>" header is required');
    }
  }
}
