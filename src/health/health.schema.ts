import type { SchemaObject } from '@nestjs/swagger';

/** One indicator's state, as terminus reports it. */
const indicator: SchemaObject = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['up', 'down'] },
    message: { type: 'string', description: 'Why the check is down.' },
    pending: {
      type: 'array',
      items: { type: 'string' },
      description: '`migrations` down: the names of the migrations not applied yet.',
    },
    applied: { type: 'integer', description: '`migrations` up: how many migrations this version has.' },
  },
};

const indicators = (description: string): SchemaObject => ({
  type: 'object',
  description,
  additionalProperties: indicator,
});

/** The body of a health answer: terminus' `HealthCheckResult`. */
export function healthSchema(status: 'ok' | 'error'): SchemaObject {
  return {
    type: 'object',
    required: ['status', 'info', 'error', 'details'],
    properties: {
      status: { type: 'string', enum: [status] },
      info: indicators('The checks that are up, by name.'),
      error: indicators('The checks that are down, by name.'),
      details: indicators('Every check, by name.'),
    },
  };
}

export const HEALTH_LIVE_EXAMPLE = { status: 'ok', info: {}, error: {}, details: {} };

export const HEALTH_READY_EXAMPLE = {
  status: 'ok',
  info: { database: { status: 'up' }, migrations: { status: 'up', applied: 6 } },
  error: {},
  details: { database: { status: 'up' }, migrations: { status: 'up', applied: 6 } },
};

export const HEALTH_ERROR_EXAMPLES = {
  pending: {
    summary: 'A migration of this version is not applied yet',
    value: {
      status: 'error',
      info: { database: { status: 'up' } },
      error: {
        migrations: {
          status: 'down',
          message: 'database migrations are pending',
          pending: ['UserAuthTokens1764400000000'],
        },
      },
      details: {
        database: { status: 'up' },
        migrations: {
          status: 'down',
          message: 'database migrations are pending',
          pending: ['UserAuthTokens1764400000000'],
        },
      },
    },
  },
  unreachable: {
    summary: 'The database does not answer',
    value: {
      status: 'error',
      info: {},
      error: {
        database: { status: 'down', message: 'database unreachable' },
        migrations: { status: 'down', message: 'cannot read the executed migrations' },
      },
      details: {
        database: { status: 'down', message: 'database unreachable' },
        migrations: { status: 'down', message: 'cannot read the executed migrations' },
      },
    },
  },
};
