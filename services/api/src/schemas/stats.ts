import { GROUP_BY_COLUMNS, INTERVALS, TOP_DIMENSIONS } from '../queries/stats.js';
import { eventFilterParams } from './common.js';
import { named } from './registry.js';

export const timeseriesQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to'],
  properties: {
    ...eventFilterParams,
    interval: {
      type: 'string',
      enum: Object.keys(INTERVALS),
      default: '1h',
      description: 'Bucket width; buckets are aligned to multiples of it since the epoch (UTC). range / interval is bounded by api.max_timeseries_buckets.',
    },
    group_by: {
      type: 'string',
      enum: Object.keys(GROUP_BY_COLUMNS),
      description: 'Split the counts by this dimension (one series per value). Absent: one series.',
    },
    groups: { type: 'integer', minimum: 1, maximum: 50, default: 10, description: 'With group_by: the series of this many values with the most events.' },
  },
} as const;

export const timeseriesResponseSchema = named('Timeseries', {
  type: 'object',
  required: ['from', 'to', 'interval', 'interval_s', 'group_by', 'series'],
  properties: {
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    interval: { type: 'string' },
    interval_s: { type: 'integer' },
    group_by: { type: ['string', 'null'] },
    series: {
      type: 'array',
      description: 'One series per group (by total, largest first); buckets without events are left out.',
      items: {
        type: 'object',
        required: ['group', 'total', 'points'],
        properties: {
          group: { type: ['string', 'null'], description: 'The group value; null without group_by.' },
          total: { type: 'integer', description: 'Distinct events of the series (sum of its points).' },
          points: {
            type: 'array',
            items: {
              type: 'object',
              required: ['t', 'count'],
              properties: {
                t: { type: 'string', format: 'date-time', description: 'Bucket start.' },
                count: { type: 'integer', description: 'Distinct events.' },
              },
            },
          },
        },
      },
    },
  },
});

export const topQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to', 'dimension'],
  properties: {
    ...eventFilterParams,
    dimension: {
      type: 'string',
      enum: Object.keys(TOP_DIMENSIONS),
      description: 'What to rank: actor (actor_id), resource (resource_type + resource_id) or ip (source IP).',
    },
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 10, description: 'How many entries.' },
  },
} as const;

export const topResponseSchema = named('Top', {
  type: 'object',
  required: ['dimension', 'data'],
  properties: {
    dimension: { type: 'string' },
    data: {
      type: 'array',
      description: 'Most frequent first (distinct events); ids are per tenant, so each entry names its tenant.',
      items: {
        type: 'object',
        required: ['tenant', 'count'],
        properties: {
          tenant: { type: 'string' },
          actor_id: { type: 'string' },
          resource_type: { type: 'string' },
          resource_id: { type: 'string' },
          source_ip: { type: 'string' },
          count: { type: 'integer' },
        },
      },
    },
  },
});
