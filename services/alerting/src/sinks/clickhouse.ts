import { type ClickHouse, sql, table } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import { z } from 'zod';
import type { Alert } from '../alert.js';
import { marker } from '../protect.js';
import { defineSink, type Sink, sinkQueueFields } from './types.js';

/** Group fields the API's event search filters on, by their search parameter (the console's "reproduce" link uses them). */
const SEARCH_PARAMS: Readonly<Record<string, string>> = { action: 'action', 'actor.id': 'actor_id', 'actor.ip': 'source_ip', 'resource.id': 'resource_id' };

const seconds = (ms: number) => Math.floor(ms / 1000);

/** The `alerts` row of one alert (004_operations): `fired_at` is passed in, see createClickHouseSink. */
export function alertRow(alert: Alert, firedAtS: number): Record<string, unknown> {
  // A protected value (protect.ts: an envelope or the mask) is no search parameter: the events
  // store that field encrypted, so it would match nothing, and a link would carry it. It is kept
  // as `group.<field>`, which the API reveals to PII callers only.
  const search = Object.fromEntries(
    Object.entries(alert.group).flatMap(([field, value]) =>
      alert.group_key.includes(`${field}=${encodeURIComponent(marker(field))}`)
        ? [[`group.${field}`, value]]
        : SEARCH_PARAMS[field]
          ? [[SEARCH_PARAMS[field], value]]
          : [],
    ),
  );
  const details = {
    ...alert.details,
    group_key: alert.group_key,
    rule_name: alert.rule_name,
    rule_type: alert.rule_type,
    summary: alert.summary,
    count: alert.count,
    version: alert.version,
    window_start: new Date(alert.window_start).toISOString(),
    window_end: new Date(alert.window_end).toISOString(),
    ...search,
  };
  return {
    alert_id: alert.alert_id,
    tenant_id: alert.tenant_id,
    rule_id: alert.rule_id,
    severity: alert.severity,
    status: 'firing',
    title: alert.rule_name,
    details: JSON.stringify(details),
    event_ids: alert.sample_event_ids,
    fired_at: firedAtS,
    // Never before fired_at; equal versions in one second: ReplacingMergeTree keeps the last inserted.
    updated_at: Math.max(firedAtS, seconds(alert.updated_at)),
  };
}

/**
 * Stores each alert as a row of the `alerts` table, the alert history the API (`GET /v1/alerts`)
 * and the console read. Once per incident as queries see it: the table is a
 * ReplacingMergeTree(updated_at) ordered by (tenant_id, toDate(fired_at), rule_id, alert_id) and
 * read with FINAL, and alert ids are deterministic (rule, group key, window start), so a
 * redelivered alert or an update replaces the row it has the same key as. The key holds
 * fired_at, which is the engine's wall clock: an alert fired again after a crash (the replay
 * re-fires what the alerts topic does not record yet) would carry a new one, so the row keeps
 * the fired_at already stored for that alert id, looked up before each write.
 */
export function createClickHouseSink(options: { ch: ClickHouse; send_updates: boolean }): Sink {
  const { ch } = options;
  async function storedFiredAt(alert: Alert, abortSignal: AbortSignal): Promise<number | undefined> {
    const rows = await ch.queryRows<{ s: string }>(
      sql`SELECT toString(toUInt32(fired_at)) AS s FROM ${table(ch.database, 'alerts')}
WHERE tenant_id = ${alert.tenant_id} AND rule_id = ${alert.rule_id} AND alert_id = ${alert.alert_id}
ORDER BY fired_at LIMIT 1`,
      { operation: 'alerting_sink_lookup', abortSignal },
    );
    return rows[0] ? Number(rows[0].s) : undefined;
  }
  return {
    name: 'clickhouse',
    sendUpdates: options.send_updates,
    async send({ alert }, abortSignal) {
      const firedAtS = (await storedFiredAt(alert, abortSignal)) ?? seconds(alert.fired_at);
      await ch.insertJson('alerts', [alertRow(alert, firedAtS)], { operation: 'alerting_sink_insert', abortSignal });
    },
  };
}

export const clickhouseSink = defineSink({
  name: 'clickhouse',
  config: z
    .strictObject({
      enabled: z
        .boolean()
        .default(false)
        .describe(
          "Store alerts in the ClickHouse `alerts` table (the `clickhouse` section's server and database), the history `GET /v1/alerts` and the console read; one row per alert id. `auditstream up` turns it on unless the config (file or environment) sets it.",
        ),
      send_updates: z.boolean().default(true).describe('Store updates of an alert (count, samples, last update time), not only the first firing.'),
      ...sinkQueueFields,
    })
    .prefault({}),
  create: (c, ctx) => {
    if (!ctx.clickhouse)
      throw new AuditstreamError('CONFIG_INVALID', 'alerting.sinks.clickhouse is enabled but the service has no ClickHouse client', {
        field: 'alerting.sinks.clickhouse.enabled',
      });
    return createClickHouseSink({ ch: ctx.clickhouse(), send_updates: c.send_updates });
  },
});
