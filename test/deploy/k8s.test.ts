import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { alertingConfigSchema } from '@auditstream/alerting';
import { describeFields } from '@auditstream/config';
import { repoRoot } from '@auditstream/core';
import { parseAllDocuments } from 'yaml';

const root = repoRoot();
const base = join(root, 'deploy/k8s/base');
const kustomization = parseAllDocuments(readFileSync(join(base, 'kustomization.yaml'), 'utf8'))[0]?.toJSON() as {
  resources: string[];
  configMapGenerator?: { name: string; files: string[] }[];
};

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML
type Doc = any;
const docs: Doc[] = kustomization.resources.flatMap((f) => parseAllDocuments(readFileSync(join(base, f), 'utf8')).map((d) => d.toJSON()));
const byKind = (kind: string) => docs.filter((d) => d?.kind === kind);
const workloads = [...byKind('Deployment'), ...byKind('Job')];
const configKeys = new Set(describeFields(alertingConfigSchema).map((f) => f.key));
const cliCommands = readdirSync(join(root, 'services/cli/src/commands')).map((f) => f.replace(/\.ts$/, ''));
const generatedConfigMaps = new Set((kustomization.configMapGenerator ?? []).map((g) => g.name));

test('every resource and generated file the kustomization names exists', () => {
  for (const r of kustomization.resources) assert.ok(existsSync(join(base, r)), `missing ${r}`);
  for (const g of kustomization.configMapGenerator ?? []) {
    for (const f of g.files) {
      const path = f.split('=').pop() as string;
      assert.ok(existsSync(resolve(base, path)), `configMapGenerator ${g.name}: missing ${path}`);
    }
  }
  assert.equal(byKind('Deployment').length, 3);
  assert.equal(byKind('Job').length, 1, 'a migration Job');
  assert.ok(byKind('PodDisruptionBudget').length >= 1);
  assert.equal(byKind('PodMonitor').length, 3);
});

test('workloads run non-root with a read-only root filesystem, probes and resources', () => {
  for (const w of workloads) {
    const spec = w.spec.template.spec;
    assert.equal(spec.securityContext?.runAsNonRoot, true, `${w.metadata.name}: runAsNonRoot`);
    for (const c of spec.containers) {
      const where = `${w.metadata.name}/${c.name}`;
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation`);
      assert.ok(c.resources?.requests && c.resources?.limits, `${where}: resources`);
      assert.equal(c.image, 'auditstream', `${where}: the one auditstream image (tag set by kustomize images:)`);
      assert.ok(cliCommands.includes(c.args[0]), `${where}: \`auditstream ${c.args[0]}\` is not a CLI command`);
      if (w.kind === 'Deployment') {
        const ports = new Set(c.ports.map((p: Doc) => p.name));
        for (const probe of ['readinessProbe', 'livenessProbe']) {
          assert.ok(ports.has(c[probe]?.httpGet?.port), `${where}: ${probe} targets an unnamed port`);
        }
        assert.equal(c.readinessProbe.httpGet.path, '/readyz');
        assert.equal(c.livenessProbe.httpGet.path, '/healthz');
      }
      // Every AUDITSTREAM_<SECTION>__<KEY> variable must name a real config key.
      for (const e of c.env ?? []) {
        const m = /^AUDITSTREAM_([A-Z0-9_]+?)__([A-Z0-9_]+)$/.exec(e.name);
        if (!m) continue;
        const key = `${(m[1] as string).toLowerCase()}.${(m[2] as string).toLowerCase()}`;
        assert.ok(configKeys.has(key), `${where}: ${e.name} names no config key (${key})`);
      }
      const volumes = new Map(spec.volumes.map((v: Doc) => [v.name, v]));
      for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name), `${where}: mount ${m.name} has no volume`);
    }
    for (const v of spec.volumes ?? []) {
      if (v.configMap) {
        const known = byKind('ConfigMap').some((cm) => cm.metadata.name === v.configMap.name) || generatedConfigMaps.has(v.configMap.name);
        assert.ok(known, `${w.metadata.name}: configMap ${v.configMap.name} is not defined`);
      }
    }
  }
});

test('Services, PodMonitors and PDBs select existing pods on existing ports', () => {
  const podLabels = byKind('Deployment').map((d) => ({
    labels: d.spec.template.metadata.labels,
    ports: d.spec.template.spec.containers.flatMap((c: Doc) => c.ports.map((p: Doc) => p.name)),
  }));
  const matches = (sel: Record<string, string>) => podLabels.filter((p) => Object.entries(sel).every(([k, v]) => p.labels[k] === v));
  for (const s of byKind('Service')) {
    const pods = matches(s.spec.selector);
    assert.equal(pods.length, 1, `Service ${s.metadata.name} selects ${pods.length} deployments`);
    for (const p of s.spec.ports)
      assert.ok(pods[0]?.ports.includes(p.targetPort), `Service ${s.metadata.name}: targetPort ${p.targetPort} is not a container port`);
  }
  for (const pm of byKind('PodMonitor')) {
    const pods = matches(pm.spec.selector.matchLabels);
    assert.equal(pods.length, 1, `PodMonitor ${pm.metadata.name}`);
    for (const ep of pm.spec.podMetricsEndpoints) assert.ok(pods[0]?.ports.includes(ep.port), `PodMonitor ${pm.metadata.name}: port ${ep.port}`);
  }
  for (const pdb of byKind('PodDisruptionBudget')) assert.equal(matches(pdb.spec.selector.matchLabels).length, 1, `PDB ${pdb.metadata.name}`);
  for (const d of byKind('Deployment'))
    assert.deepEqual(d.spec.selector.matchLabels, { 'app.kubernetes.io/name': d.spec.template.metadata.labels['app.kubernetes.io/name'] });
});

test('the secrets the manifests reference are the ones deploy/k8s/README.md tells operators to create', () => {
  const readme = readFileSync(join(dirname(base), 'README.md'), 'utf8');
  const secrets = new Set<string>();
  for (const w of workloads) for (const v of w.spec.template.spec.volumes ?? []) if (v.secret) secrets.add(v.secret.secretName);
  assert.ok(secrets.size >= 3);
  for (const s of secrets) assert.match(readme, new RegExp(`\`${s}\``), `deploy/k8s/README.md does not document secret ${s}`);
});
