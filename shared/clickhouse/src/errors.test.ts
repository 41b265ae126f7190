import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { classifyClickHouseError, clickhouseCode } from './errors.js';

// Messages as 18.16 writes them (no (TYPE) suffix) and as modern servers/chDB do.
const old = (code: number, text: string) => new Error(`Code: ${code}, e.displayText() = DB::Exception: ${text}, e.what() = DB::Exception\n`);
const modern = (code: number, text: string, type: string) => Object.assign(new Error(text), { code: String(code), type, message: `${text}` });

test('reads the exception code from old and new message formats', () => {
  assert.equal(clickhouseCode(old(27, 'Cannot parse input')), 27);
  assert.equal(clickhouseCode(new Error('Code: 516. DB::Exception: default: Authentication failed. (AUTHENTICATION_FAILED)')), 516);
  assert.equal(clickhouseCode(modern(60, 'Table x does not exist', 'UNKNOWN_TABLE')), 60);
  assert.equal(clickhouseCode(new Error('socket hang up')), undefined);
});

test('classifies every class of failure into one AuditstreamError code', () => {
  const cases: [unknown, string, boolean, string?][] = [
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }), 'CLICKHOUSE_UNAVAILABLE', true],
    [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'CLICKHOUSE_UNAVAILABLE', true],
    [new Error('socket hang up'), 'CLICKHOUSE_UNAVAILABLE', true],
    [new Error('Timeout error.'), 'CLICKHOUSE_TIMEOUT', true],
    [old(159, 'Timeout exceeded: elapsed 1.004 seconds, maximum: 1'), 'CLICKHOUSE_TIMEOUT', true],
    [old(241, 'Memory limit (for query) exceeded'), 'CLICKHOUSE_UNAVAILABLE', true],
    [old(252, 'Too many parts (300)'), 'CLICKHOUSE_UNAVAILABLE', true],
    [old(202, 'Too many simultaneous queries'), 'CLICKHOUSE_UNAVAILABLE', true],
    [new Error('Unexpected token \'C\', "Code: 395,"... is not valid JSON'), 'CLICKHOUSE_UNAVAILABLE', true],
    [old(516, 'default: Authentication failed'), 'CLICKHOUSE_AUTH', false],
    [old(192, 'Unknown user nobody'), 'CLICKHOUSE_AUTH', false],
    [old(193, 'Wrong password for user default'), 'CLICKHOUSE_AUTH', false],
    [old(164, 'Cannot insert into table in readonly mode'), 'CLICKHOUSE_DENIED', false],
    [old(392, 'Cannot execute query. DDL queries are prohibited for the user'), 'CLICKHOUSE_DENIED', false],
    [old(291, 'Access denied to database other for user x'), 'CLICKHOUSE_DENIED', false],
    [modern(497, 'u: Not enough privileges', 'ACCESS_DENIED'), 'CLICKHOUSE_DENIED', false],
    [old(27, 'Cannot parse input: expected " before: zz","d":1}: (while read the value of key a): (at row 1)'), 'CLICKHOUSE_DATA', false, 'a'],
    [old(41, 'Cannot parse datetime: (while read the value of key d): (at row 1)'), 'CLICKHOUSE_DATA', false, 'd'],
    [old(376, 'Cannot parse uuid zz: (while read the value of key event_id)'), 'CLICKHOUSE_DATA', false, 'event_id'],
    [old(49, "Unknown element 'b' for type Enum8('a' = 1): (while read the value of key category)"), 'CLICKHOUSE_DATA', false, 'category'],
    ...[6, 26, 38, 53, 70, 72, 117, 131].map((c): [unknown, string, boolean] => [old(c, 'bad value'), 'CLICKHOUSE_DATA', false]),
    [old(60, "Table audit.events doesn't exist."), 'CLICKHOUSE_SCHEMA', false],
    [old(81, "Database nope doesn't exist"), 'CLICKHOUSE_SCHEMA', false],
    [old(62, 'Syntax error: failed at position 10'), 'CLICKHOUSE_QUERY', false],
    [old(49, 'Logical error: something else'), 'CLICKHOUSE_QUERY', false],
    [new Error('The user aborted a request.'), 'CLICKHOUSE_ABORTED', false],
    [new Error('something else'), 'CLICKHOUSE_QUERY', false],
  ];
  for (const [err, code, retriable, field] of cases) {
    const e = classifyClickHouseError(err, { operation: 'query' });
    assert.ok(e instanceof AuditstreamError);
    assert.equal(e.code, code, `${(err as Error).message} → ${e.code}`);
    assert.equal(e.retriable, retriable, `${(err as Error).message} retriable`);
    if (field) assert.equal(e.field, field);
  }
  // A syntax error while inserting rows is the rows' fault.
  assert.equal(classifyClickHouseError(old(62, 'Syntax error'), { operation: 'insert_events' }).code, 'CLICKHOUSE_DATA');
});

test('an insert while ZooKeeper is away is retried, never dead-lettered: the answers 18.16 gave under a ZooKeeper restart', () => {
  // Logged by the cluster's servers while test/cluster/zookeeper-restart.cluster-test.ts ran.
  const zk = (code: number, text: string, what = 'DB::Exception') => new Error(`Code: ${code}, e.displayText() = ${text}, e.what() = ${what}\n`);
  const seen = [
    zk(242, 'DB::Exception: Table is in readonly mode'),
    zk(242, 'DB::Exception: Received from 127.0.0.1:34043. DB::Exception: Table is in readonly mode. Stack trace:'),
    zk(999, 'Coordination::Exception: Session expired (Session expired)', 'Coordination::Exception'),
    zk(999, 'Coordination::Exception: Connection loss', 'Coordination::Exception'),
    zk(999, 'Coordination::Exception: All connection tries failed while connecting to ZooKeeper. Addresses: 127.0.0.1:34000', 'Coordination::Exception'),
    zk(225, 'DB::Exception: Cannot get ZooKeeper'),
    zk(279, 'DB::NetException: All connection tries failed. Log: Connection refused (127.0.0.1:34042)', 'DB::NetException'),
  ];
  for (const err of seen) {
    const e = classifyClickHouseError(err, { operation: 'insert_events' });
    assert.equal(e.code, 'CLICKHOUSE_UNAVAILABLE', err.message);
    assert.equal(e.retriable, true, err.message);
  }
});

test('data errors never carry the server text, which quotes the payload', () => {
  const e = classifyClickHouseError(old(27, 'Cannot parse input: expected " before: s3cr3t-payload: (while read the value of key reason)'), {
    operation: 'insert_events',
  });
  assert.doesNotMatch(e.message, /s3cr3t/);
  assert.equal(e.cause, undefined);
  assert.equal(e.field, 'reason');
  const same = new AuditstreamError('X', 'y');
  assert.equal(classifyClickHouseError(same), same);
});
