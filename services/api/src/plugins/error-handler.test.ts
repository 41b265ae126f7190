import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validationErrors } from './error-handler.js';

test('Ajv errors become one entry per parameter, naming it and where it is', () => {
  const errors = validationErrors(
    [
      { instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: 'bogus' }, message: 'must NOT have additional properties' },
      { instancePath: '', keyword: 'required', params: { missingProperty: 'to' }, message: "must have required property 'to'" },
      { instancePath: '/limit', keyword: 'maximum', params: { limit: 1000 }, message: 'must be <= 1000' },
      { instancePath: '/limit', keyword: 'maximum', params: { limit: 1000 }, message: 'must be <= 1000' },
      { instancePath: '/sort', keyword: 'enum', params: { allowedValues: ['asc', 'desc'] }, message: 'must be equal to one of the allowed values' },
      { instancePath: '/tenant', keyword: 'type', params: { type: 'string' }, message: 'must be string' },
      { instancePath: '/limit', keyword: 'type', params: { type: 'integer' }, message: 'must be integer' },
    ],
    'querystring',
  );
  assert.deepEqual(errors, [
    { parameter: '(unknown)', in: 'query', message: 'is not a known parameter (see /openapi.json)' },
    { parameter: 'to', in: 'query', message: 'is required' },
    { parameter: 'limit', in: 'query', message: 'must be <= 1000' },
    { parameter: 'sort', in: 'query', message: 'must be one of: asc, desc' },
    { parameter: 'tenant', in: 'query', message: 'must be a single string' },
    { parameter: 'limit', in: 'query', message: 'must be an integer' },
  ]);
});

test('body paths and hostile unknown names are reported safely', () => {
  const errors = validationErrors(
    [
      { instancePath: '/from', keyword: 'pattern', message: 'must match pattern "x"' },
      { instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: `${'x'.repeat(100)}\u0000<script>` } },
    ],
    'body',
  );
  assert.equal(errors[0]?.parameter, 'from');
  assert.equal(errors[0]?.in, 'body');
  assert.equal(errors[1]?.message, 'is not a known field (see /openapi.json)');
  // The caller's name is not echoed at all.
  assert.equal(errors[1]?.parameter, '(unknown)');
});
