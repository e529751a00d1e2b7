/**
 * A condition, in SQL, on which a check-in may be written: what a check-in middleware would
 * otherwise check with a query of its own before the handler runs (the certificate binding:
 * one database round trip of the two a TokenUpdate would make). A handler registered with
 * `foldsWriteGuard` finds it in `ctx.writeGuard` and must honour it: put it into the WHERE of
 * its first write, or check it inside its transaction before anything else; and when it does
 * not hold, write nothing and throw {@link WriteGuardUnmet}. The middleware then makes its full
 * check, which refuses the message or lets the handler run again without the guard.
 *
 * Here, not in checkin/, because the module that makes the guard (device-identity) and the
 * pipeline that carries it (checkin) do not import each other.
 */
export interface WriteGuard {
  /** A boolean SQL expression (both drivers), e.g. `EXISTS (SELECT 1 FROM … WHERE …)`. */
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** Thrown by a handler whose write guard did not hold; nothing was written. */
export class WriteGuardUnmet extends Error {
  constructor() {
    super('the write guard did not hold');
    this.name = 'WriteGuardUnmet';
  }
}
