import type { DiscoveryService } from '@nestjs/core';

export interface Discovered<M> {
  readonly metadata: M;
  readonly instance: unknown;
  readonly name: string;
}

/** Every provider instance whose class carries `metadataKey`, with that metadata. */
export function discoverByMetadata<M>(discovery: DiscoveryService, metadataKey: string): Discovered<M>[] {
  const found: Discovered<M>[] = [];
  for (const wrapper of discovery.getProviders()) {
    const metatype = wrapper.metatype;
    const instance: unknown = wrapper.instance;
    if (typeof metatype !== 'function' || instance === undefined || instance === null) continue;
    const metadata = Reflect.getMetadata(metadataKey, metatype) as M | undefined;
    if (metadata !== undefined) found.push({ metadata, instance, name: metatype.name });
  }
  return found;
}
