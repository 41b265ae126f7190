import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clickhouseClusterXml } from './clickhouse.js';
import { CLUSTER_NAME, clusterClientEnv, clusterLayout } from './cluster.js';

test('the cluster layout gives every process its own ports, all derived from the base port', () => {
  const l = clusterLayout('127.0.0.1', 31000);
  const ports = [
    l.zookeeper.port,
    ...l.brokers.flatMap((b) => [b.port, b.controllerPort]),
    ...l.clickhouse.flatMap((c) => [c.httpPort, c.tcpPort, c.interserverPort]),
  ];
  assert.equal(ports.length, 1 + 3 * 2 + 4 * 3);
  assert.equal(new Set(ports).size, ports.length, 'no port is used twice');
  // Clear of the dev stack and of the other tests' fixed ports.
  for (const taken of [8123, 9000, 9092, 9093, 29892, 28881]) assert.ok(!ports.includes(taken), `${taken} is not used`);
  assert.deepEqual(
    l.clickhouse.map((c) => [c.shard, c.replica]),
    [
      [1, 's1r1'],
      [1, 's1r2'],
      [2, 's2r1'],
      [2, 's2r2'],
    ],
  );
  const moved = clusterLayout('127.0.0.1', 41000);
  assert.equal(moved.brokers[0]?.port, 41011);
  assert.equal(clusterClientEnv(moved).AUDITSTREAM_KAFKA__BROKERS, '127.0.0.1:41011,127.0.0.1:41012,127.0.0.1:41013');
});

test('each ClickHouse server knows both shards, its own macros, ZooKeeper and the DDL queue', () => {
  const xml = clickhouseClusterXml('127.0.0.1', {
    name: CLUSTER_NAME,
    shards: [
      [31041, 31042],
      [31043, 31044],
    ],
    shard: 2,
    replica: 's2r1',
    interserverPort: 31053,
    zookeeper: { host: '127.0.0.1', port: 31000 },
  });
  assert.equal((xml.match(/<shard>\n/g) ?? []).length, 2);
  assert.equal((xml.match(/<internal_replication>true<\/internal_replication>/g) ?? []).length, 2);
  assert.match(xml, /<replica><host>127\.0\.0\.1<\/host><port>31044<\/port><\/replica>/);
  assert.match(xml, /<shard>02<\/shard>\s*<replica>s2r1<\/replica>/);
  assert.match(xml, /<node><host>127\.0\.0\.1<\/host><port>31000<\/port><\/node>/);
  assert.match(xml, /<distributed_ddl>\s*<path>\/clickhouse\/task_queue\/ddl<\/path>/);
  assert.match(xml, /<interserver_http_port>31053<\/interserver_http_port>/);
});
