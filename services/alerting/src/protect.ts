import { AuditstreamError } from '@auditstream/core';
import { type DataKey, decryptField, encryptField, isEnvelope, parseEnvelope, type SubjectKeyStore, subjectKey } from '@auditstream/crypto';
import { type Alert, encodeGroupKey } from './alert.js';

/**
 * Personal data in alerts (docs/field-encryption.md, "Alerts"). The engine evaluates the clear
 * stream from Kafka, before ingest encrypts the configured fields, so an alert may carry such
 * values: a group_by value (password spraying by actor.ip), a summary placeholder (`{actor.ip}`),
 * a new_value rule's value. The protector rewrites an alert on its way to a sink:
 * - each such value becomes an envelope under the data key of the alert's subject (the subject
 *   field of the event that fired or last updated it, `details.subject`), bound to the alert
 *   (AAD: tenant, alert_id, field `alert`): the API reveals it only to PII callers through the
 *   same key store, and `erase` of the subject makes it unreadable like the subject's events;
 * - without a subject (e.g. an absence rule) there is no key to use: the value becomes the mask;
 * - the summary and group_key name the field instead of the value (`[actor.ip]`).
 * Alert ids are computed by the engine from the clear group key, so exactly-once delivery and
 * the history's dedup by alert_id are unchanged.
 */
export interface AlertProtector {
  protect(alert: Alert): Promise<Alert>;
  /**
   * The inverse for the alerts topic read back at start (replay.ts): the engine's incident and
   * new_value state is keyed by clear values. Values whose subject was erased stay protected
   * (the engine then treats that incident as a new one). The summary keeps its field names.
   */
  restore(alert: Alert): Promise<Alert>;
}

/** Details key under which the engine keeps a summary placeholder's personal value. */
export const PII_DETAIL_PREFIX = 'pii.';
/** Details key naming the subject whose key protects the alert's personal values. */
export const SUBJECT_DETAIL = 'subject';
/** The AAD field of every alert envelope: an envelope moved to another alert fails authentication. */
export const ALERT_ENVELOPE_FIELD = 'alert';

/** Whether a dotted event path is encrypted by config (attributes.* covers every attribute). */
export function isPiiPath(fields: readonly string[], path: string): boolean {
  return fields.includes(path) || (path.startsWith('attributes.') && fields.includes('attributes.*'));
}

export const marker = (path: string) => `[${path}]`;

export function createAlertProtector(o: { store: SubjectKeyStore; fields: readonly string[]; mask: string }): AlertProtector {
  return {
    async protect(alert) {
      const clear: Array<[path: string, value: string]> = [];
      for (const [k, v] of Object.entries(alert.group)) if (isPiiPath(o.fields, k) && v !== '') clear.push([k, v]);
      for (const [k, v] of Object.entries(alert.details)) if (k.startsWith(PII_DETAIL_PREFIX) && v !== '') clear.push([k.slice(PII_DETAIL_PREFIX.length), v]);
      const newValue = alert.details.field !== undefined && isPiiPath(o.fields, alert.details.field) && alert.details.value ? alert.details.value : undefined;
      if (newValue !== undefined) clear.push([alert.details.field as string, newValue]);
      if (clear.length === 0) return alert;
      const subject = alert.details[SUBJECT_DETAIL];
      let seal = (_v: string) => o.mask;
      if (subject) {
        let key: DataKey | undefined;
        try {
          key = (await o.store.keysFor([{ tenant: alert.tenant_id, subject }])).get(subjectKey(alert.tenant_id, subject));
        } catch (cause) {
          // Never deliver clear values instead: the dispatcher retries a retriable failure.
          throw new AuditstreamError('ALERT_PROTECT_FAILED', 'the subject key that protects the personal values of an alert could not be read', {
            retriable: true,
            cause,
          });
        }
        if (key) {
          const k = key;
          seal = (v) => encryptField(k, { tenant: alert.tenant_id, eventId: alert.alert_id, field: ALERT_ENVELOPE_FIELD }, v);
        }
      }
      const group = Object.fromEntries(Object.entries(alert.group).map(([k, v]) => [k, isPiiPath(o.fields, k) && v !== '' ? seal(v) : v]));
      const details = Object.fromEntries(
        Object.entries(alert.details).map(([k, v]) => [
          k,
          (k.startsWith(PII_DETAIL_PREFIX) && v !== '') || (k === 'value' && newValue !== undefined) ? seal(v) : v,
        ]),
      );
      const groupKey = encodeGroupKey(Object.entries(alert.group).map(([k, v]) => [k, isPiiPath(o.fields, k) && v !== '' ? marker(k) : v] as const));
      // Longest values first, so that a value containing another is replaced whole.
      let summary = alert.summary;
      for (const [path, v] of [...clear].sort((a, b) => b[1].length - a[1].length)) summary = summary.split(v).join(marker(path));
      return { ...alert, group, group_key: groupKey, details, summary };
    },
    async restore(alert) {
      const ids = new Set<string>();
      for (const v of [...Object.values(alert.group), ...Object.values(alert.details)]) {
        const env = isEnvelope(v) ? parseEnvelope(v) : undefined;
        if (env) ids.add(env.keyId);
      }
      if (ids.size === 0) return alert;
      const keys = await o.store.resolve([...ids]);
      let all = true;
      const open = (v: string): string => {
        const env = isEnvelope(v) ? parseEnvelope(v) : undefined;
        if (!env) return v;
        const k = keys.get(env.keyId);
        if (k?.status === 'live') {
          try {
            return decryptField(k.key, { tenant: alert.tenant_id, eventId: alert.alert_id, field: ALERT_ENVELOPE_FIELD }, v);
          } catch (err) {
            if (!(err instanceof AuditstreamError)) throw err;
          }
        }
        all = false;
        return v;
      };
      const group = Object.fromEntries(Object.entries(alert.group).map(([k, v]) => [k, open(v)]));
      const groupOpen = all;
      const details = Object.fromEntries(Object.entries(alert.details).map(([k, v]) => [k, open(v)]));
      return { ...alert, group, details, ...(groupOpen ? { group_key: encodeGroupKey(Object.entries(group)) } : {}) };
    },
  };
}
