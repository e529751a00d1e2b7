import { BadRequestException } from '@nestjs/common';
import { ENROLLMENT_TYPES } from '../checkin/enrollment-id.js';
import type { EnrollmentType } from '../checkin/enrollment-id.js';
import { LIST_SORTS } from '../common/keyset-page.js';
import type { ListSort, PagePosition, PageRequest } from '../common/keyset-page.js';

export const LIST_LIMIT_DEFAULT = 100;
export const LIST_LIMIT_MAX = 500;

/** Every filter a list accepts, and the parameters of paging. */
export const FILTERS = [
  'type',
  'enabled',
  'awaitingConfiguration',
  'topic',
  'serialNumber',
  'deviceId',
  'tokenUpdateCount',
  'updatedSince',
  'certificateExpiresBefore',
] as const;
export type FilterName = (typeof FILTERS)[number];
const PAGING = ['limit', 'cursor', 'sort'];

/** The raw query string of a list request, as Express parses it. */
export type RawQuery = Record<string, unknown>;

/**
 * The cursor is the sort key of the previous page's last row, base64url-encoded JSON:
 * `["id", <id>]` or `["updatedAt", <ISO instant>, <id>]`. Clients treat it as opaque; the sort
 * is in it so a cursor cannot be replayed against the other order.
 */
export function encodeCursor(sort: ListSort, at: PagePosition): string {
  const key = sort === 'updatedAt' ? [sort, at.updatedAt?.toISOString(), at.id] : [sort, at.id];
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, sort: ListSort): PagePosition {
  const bad = new BadRequestException('cursor is malformed: pass the nextCursor of the previous page unchanged');
  if (!/^[A-Za-z0-9_-]{1,2800}$/.test(cursor)) throw bad;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad;
  }
  if (!Array.isArray(key) || typeof key[0] !== 'string') throw bad;
  if (key[0] !== sort) throw new BadRequestException(`cursor was made for sort=${key[0]}, not sort=${sort}`);
  if (sort === 'id' && key.length === 2 && typeof key[1] === 'string') return { id: key[1] };
  if (sort === 'updatedAt' && key.length === 3 && typeof key[1] === 'string' && typeof key[2] === 'string') {
    const updatedAt = new Date(key[1]);
    if (!Number.isNaN(updatedAt.getTime())) return { id: key[2], updatedAt };
  }
  throw bad;
}

/** A single string parameter; repeated parameters (`?a=1&a=2`) or nested ones are refused. */
function single(query: RawQuery, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new BadRequestException(`${name} must be given once, as a plain value`);
  return v;
}

function integer(name: string, v: string, min: number, max: number): number {
  const n = /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max)) throw new BadRequestException(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

function instant(name: string, v: string): Date {
  // An ISO 8601 date-time with an explicit offset, so no server's time zone guesses.
  const m = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.exec(v);
  const d = m === null ? undefined : new Date(v);
  // Date rolls 2026-02-31 over into March; such a day is refused, not moved.
  const [year, month, day] = (m ?? []).slice(1, 4).map(Number) as [number, number, number];
  const realDay = m !== null && new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
  if (d === undefined || Number.isNaN(d.getTime()) || !realDay) {
    throw new BadRequestException(`${name} must be an ISO 8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z`);
  }
  return d;
}

function bool(name: string, v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new BadRequestException(`${name} must be true or false`);
}

/** The typed value of each filter given (names already checked). */
export interface ParsedFilters {
  type?: EnrollmentType;
  enabled?: boolean;
  awaitingConfiguration?: boolean;
  topic?: string;
  serialNumber?: string;
  deviceId?: string;
  tokenUpdateCount?: number;
  updatedSince?: Date;
  certificateExpiresBefore?: Date;
}

/**
 * The page and filters of a list request, or 400: a parameter this list does not know (a typo
 * must not silently list everything), a bad value, a malformed cursor. `types` narrows `type`.
 */
export function parseListQuery(
  query: RawQuery,
  resource: string,
  allowed: readonly FilterName[],
  types: readonly EnrollmentType[] = ENROLLMENT_TYPES,
): { page: PageRequest; filters: ParsedFilters } {
  for (const name of Object.keys(query)) {
    if (PAGING.includes(name) || (allowed as readonly string[]).includes(name)) continue;
    const known = (FILTERS as readonly string[]).includes(name);
    throw new BadRequestException(
      `${known ? `filter ${name} does not apply to ${resource}` : `unknown parameter ${name}`}; ` +
        `${resource} take ${[...allowed, ...PAGING].join(', ')}`,
    );
  }
  const sortValue = single(query, 'sort') ?? 'id';
  if (!(LIST_SORTS as readonly string[]).includes(sortValue)) {
    throw new BadRequestException(`sort must be one of ${LIST_SORTS.join(', ')}`);
  }
  const sort = sortValue as ListSort;
  const limitValue = single(query, 'limit');
  const limit = limitValue === undefined ? LIST_LIMIT_DEFAULT : integer('limit', limitValue, 1, LIST_LIMIT_MAX);
  const cursor = single(query, 'cursor');
  const page: PageRequest = cursor === undefined ? { sort, limit } : { sort, limit, after: decodeCursor(cursor, sort) };

  const filters: ParsedFilters = {};
  for (const name of allowed) {
    const v = single(query, name);
    if (v === undefined) continue;
    switch (name) {
      case 'type':
        if (!(types as readonly string[]).includes(v)) {
          throw new BadRequestException(`type must be one of ${types.join(', ')}`);
        }
        filters.type = v as EnrollmentType;
        break;
      case 'enabled':
      case 'awaitingConfiguration':
        filters[name] = bool(name, v);
        break;
      case 'topic':
      case 'serialNumber':
      case 'deviceId':
        if (v === '' || v.length > 512) throw new BadRequestException(`${name} must be 1 to 512 characters`);
        filters[name] = v;
        break;
      case 'tokenUpdateCount':
        filters.tokenUpdateCount = integer(name, v, 0, 2_147_483_647);
        break;
      case 'updatedSince':
      case 'certificateExpiresBefore':
        filters[name] = instant(name, v);
        break;
    }
  }
  return { page, filters };
}
