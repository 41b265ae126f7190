import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CSV_COLUMNS, csvField, csvHeader } from './present.js';

test('CSV fields are RFC 4180-quoted when needed', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField(null), '');
  assert.equal(csvField(''), '');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField(' padded'), '" padded"');
  assert.equal(csvField('{"k":"v"}'), '"{""k"":""v""}"');
});

test('CSV fields that a spreadsheet would evaluate are defused', () => {
  assert.equal(csvField('=HYPERLINK("http://x")'), `"'=HYPERLINK(""http://x"")"`);
  assert.equal(csvField('+1'), "'+1");
  assert.equal(csvField('-cmd'), "'-cmd");
  assert.equal(csvField('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(csvField('\tx'), `'\tx`);
});

test('the header names every column once', () => {
  assert.equal(csvHeader(), `${CSV_COLUMNS.join(',')}\r\n`);
  assert.equal(new Set(CSV_COLUMNS).size, CSV_COLUMNS.length);
});
