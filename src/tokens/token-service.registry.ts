import { Inject, Injectable } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { discoverByMetadata } from '../common/discover.js';
import { TOKEN_SERVICE_METADATA } from './token-service.js';
import type { TokenServiceHandler } from './token-service.js';

/** Every `@TokenService` provider, by TokenServiceType. */
@Injectable()
export class TokenServiceRegistry implements OnModuleInit {
  private readonly services = new Map<string, TokenServiceHandler>();

  constructor(@Inject(DiscoveryService) private readonly discovery: DiscoveryService) {}

  onModuleInit(): void {
    for (const { metadata, instance, name } of discoverByMetadata<string>(this.discovery, TOKEN_SERVICE_METADATA)) {
      this.register(metadata, instance as TokenServiceHandler, name);
    }
  }

  register(serviceType: string, service: TokenServiceHandler, name = 'service'): void {
    const existing = this.services.get(serviceType);
    if (existing !== undefined) {
      throw new Error(
        `Two token services claim TokenServiceType "${serviceType}": ${existing.constructor.name} and ${name}`,
      );
    }
    if (typeof (service as Partial<TokenServiceHandler>).issue !== 'function') {
      throw new Error(`Token service ${name} for "${serviceType}" has no issue() method`);
    }
    this.services.set(serviceType, service);
  }

  get(serviceType: string): TokenServiceHandler | undefined {
    return this.services.get(serviceType);
  }

  serviceTypes(): string[] {
    return [...this.services.keys()].sort();
  }
}
