import { Inject, Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { APPLE_MESSAGE_TYPES } from '../checkin/checkin.dispatcher.js';
import type { ConfigType } from '@nestjs/config';
import { metricsConfig } from '../config/namespaces.js';
import { IDENTITY_REFUSAL_REASONS } from '../device-identity/certificate-verifier.js';
import type { IdentityRefusalReason } from '../device-identity/certificate-verifier.js';
import { mysqlPoolStats } from './mysql-pool.js';
import type { PoolStats } from './mysql-pool.js';

/**
 * Latency buckets, seconds: a cached TokenUpdate on SQLite answers in well under a millisecond,
 * a first signed Authenticate on a loaded MariaDB in tens, and anything past DATABASE_TIMEOUT_MS's
 * usual range is an incident whatever its exact length.
 */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2];

/**
 * The process's Prometheus metrics, in a registry of its own (never prom-client's global one, so
 * two apps in one process, as in the tests, do not share counts). With METRICS_PORT unset nothing
 * is created or counted: {@link checkin} returns at once.
 */
@Injectable()
export class MetricsService {
  readonly enabled: boolean;
  readonly registry = new Registry();
  private readonly requests?: Counter<'message_type' | 'status'>;
  private readonly duration?: Histogram<'message_type'>;
  private readonly refusals?: Counter<'reason'>;

  constructor(
    @Inject(metricsConfig.KEY) config: ConfigType<typeof metricsConfig>,
    @Inject(DataSource) dataSource: DataSource,
  ) {
    this.enabled = config.port !== undefined;
    if (!this.enabled) return;
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'mdm_checkin_requests_total',
      help: 'Check-in requests answered, by MessageType and HTTP status.',
      labelNames: ['message_type', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'mdm_checkin_request_duration_seconds',
      help: 'Time from the start of a check-in request to its answer, by MessageType.',
      labelNames: ['message_type'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.refusals = new Counter({
      name: 'mdm_checkin_identity_refusals_total',
      help: "Check-ins refused because of the device's identity (signature, certificate or its binding), by reason.",
      labelNames: ['reason'],
      registers,
    });
    // Every reason from the start at 0, so that rate() sees the first refusal of a kind.
    for (const reason of IDENTITY_REFUSAL_REASONS) this.refusals.inc({ reason }, 0);
    registerPoolGauges(dataSource, config.poolSize, registers);
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * One answered check-in. `messageType` is whatever the body said (or undefined when none was
   * read); only Apple's documented types become label values, so a device cannot mint series.
   */
  checkin(messageType: unknown, status: number, seconds: number, identityRefusal: string | undefined): void {
    if (!this.enabled) return;
    const type = messageTypeLabel(messageType);
    this.requests?.inc({ message_type: type, status: String(status) });
    this.duration?.observe({ message_type: type }, seconds);
    if (identityRefusal !== undefined) this.refusals?.inc({ reason: refusalLabel(identityRefusal) });
  }
}

/**
 * `none`: no MessageType was read (refused before the body was decoded, an undecodable body, or
 * a message without one); `unknown`: a MessageType Apple does not document.
 */
export function messageTypeLabel(messageType: unknown): string {
  if (messageType === undefined) return 'none';
  return typeof messageType === 'string' && APPLE_MESSAGE_TYPES.has(messageType) ? messageType : 'unknown';
}

/**
 * The MySQL/MariaDB pool, read when Prometheus scrapes (nothing is counted per query). SQLite has
 * no pool (one connection, its work queued in DatabaseService), so these gauges are absent there.
 */
function registerPoolGauges(dataSource: DataSource, poolSize: number, registers: Registry[]): void {
  if (dataSource.options.type === 'better-sqlite3') return;
  const gauges: [string, string, keyof PoolStats][] = [
    ['mdm_db_pool_connections_in_use', 'MySQL/MariaDB pool connections lent out to a query or transaction.', 'inUse'],
    ['mdm_db_pool_connections_idle', 'MySQL/MariaDB pool connections open and free.', 'idle'],
    [
      'mdm_db_pool_waiting_requests',
      'Requests waiting for a MySQL/MariaDB pool connection (every connection is in use).',
      'waiting',
    ],
  ];
  for (const [name, help, field] of gauges) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        // NaN (not a made-up 0) when the pool cannot be read.
        this.set(mysqlPoolStats(dataSource)?.[field] ?? Number.NaN);
      },
    });
  }
  new Gauge({
    name: 'mdm_db_pool_connections_max',
    help: 'The most MySQL/MariaDB connections this process opens (DATABASE_POOL_SIZE).',
    registers,
  }).set(poolSize);
}

/** The refusal's code when it is one of the identity module's; `other` for anything else (bounded labels). */
function refusalLabel(reason: string): IdentityRefusalReason | 'other' {
  return (IDENTITY_REFUSAL_REASONS as readonly string[]).includes(reason) ? (reason as IdentityRefusalReason) : 'other';
}
