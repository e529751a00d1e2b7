import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';

/** The orders a list can be read in; `updatedAt` breaks ties by id. */
export const LIST_SORTS = ['id', 'updatedAt'] as const;
export type ListSort = (typeof LIST_SORTS)[number];

/** Where the previous page ended: the sort key of its last row. */
export interface PagePosition {
  readonly id: string;
  /** Present when the list is sorted by updatedAt. */
  readonly updatedAt?: Date;
}

/** One page to read: its order, its size, and where the last page ended (none for the first). */
export interface PageRequest {
  readonly sort: ListSort;
  readonly limit: number;
  readonly after?: PagePosition;
}

export interface Page<T> {
  readonly items: T[];
  /** Where this page ended; absent on the last page. */
  readonly next?: PagePosition;
}

/**
 * Keyset pagination on a query over one table aliased `alias` with `id` and `updated_at`
 * columns: rows strictly after `page.after` in the chosen order, one more than the limit (so
 * the caller knows whether a next page exists). Never OFFSET: a row written between two
 * pages cannot shift the rows after it, so with sort=id no row is skipped or repeated.
 * `toSqlDate` turns a Date into the parameter form the driver compares with its DATETIMEs.
 */
export function keysetPage<T extends ObjectLiteral>(
  qb: SelectQueryBuilder<T>,
  alias: string,
  page: PageRequest,
  toSqlDate: (d: Date) => unknown,
): SelectQueryBuilder<T> {
  const after = page.after;
  if (page.sort === 'updatedAt') {
    if (after?.updatedAt !== undefined) {
      qb.andWhere(
        `(${alias}.updated_at > :afterUpdatedAt OR (${alias}.updated_at = :afterUpdatedAt AND ${alias}.id > :afterId))`,
        { afterUpdatedAt: toSqlDate(after.updatedAt), afterId: after.id },
      );
    }
    qb.orderBy(`${alias}.updated_at`, 'ASC').addOrderBy(`${alias}.id`, 'ASC');
  } else {
    if (after !== undefined) qb.andWhere(`${alias}.id > :afterId`, { afterId: after.id });
    qb.orderBy(`${alias}.id`, 'ASC');
  }
  return qb.limit(page.limit + 1);
}

/** The page of `rows` (read with `keysetPage`), and where it ended when more rows follow. */
export function pageOf<R extends { id: string; updatedAt: Date }, T>(
  rows: R[],
  page: PageRequest,
  view: (rows: R[]) => T[],
): Page<T> {
  if (rows.length <= page.limit) return { items: view(rows) };
  const kept = rows.slice(0, page.limit);
  const last = kept[kept.length - 1] as R;
  return {
    items: view(kept),
    next: page.sort === 'updatedAt' ? { id: last.id, updatedAt: last.updatedAt } : { id: last.id },
  };
}
