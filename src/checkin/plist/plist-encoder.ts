import { build } from 'plist';
import type { PlistValue as BuildValue } from 'plist';

/** Encodes a response dictionary as an XML plist (Buffers become `<data>`). */
export function encodePlist(dict: Record<string, unknown>): string {
  return build(dict as BuildValue);
}
