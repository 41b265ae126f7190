import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKafkaClient } from './client.js';

const base = { brokers: ['127.0.0.1:1'], client_id: 't' };

test('TLS and SASL settings: unreadable files and missing credentials are errors naming the key', () => {
  assert.throws(() => createKafkaClient({ ...base, ssl: true, ssl_ca_file: '/nonexistent/ca.pem' }, { component: 'x' }), {
    code: 'CONFIG_UNREADABLE',
    field: 'kafka.ssl_ca_file',
  });
  assert.throws(() => createKafkaClient({ ...base, ssl_ca_file: '/x/ca.pem' }, { component: 'x' }), { code: 'CONFIG_INVALID', field: 'kafka.ssl' });
  assert.throws(
    () => createKafkaClient({ ...base, sasl_mechanism: 'scram-sha-512', sasl_username: 'u', sasl_password_file: '/nonexistent/pw' }, { component: 'x' }),
    {
      code: 'CONFIG_UNREADABLE',
      field: 'kafka.sasl_password_file',
    },
  );
  assert.throws(() => createKafkaClient({ ...base, sasl_mechanism: 'scram-sha-512', sasl_username: 'u' }, { component: 'x' }), {
    code: 'CONFIG_INVALID',
  });
  assert.ok(createKafkaClient({ ...base, ssl: true, sasl_mechanism: 'scram-sha-512', sasl_username: 'u', sasl_password: 'p' }, { component: 'x' }));
});
