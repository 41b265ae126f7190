import type { Checkpoint, ExportManifest, SigningKey } from '@auditstream/integrity';

/**
 * The signed manifests of finished exports, kept in this process's memory for
 * api.export_manifest_ttl_s, at most api.export_manifest_max_entries (the oldest go first). An
 * export streams before its digest is known, so the manifest is fetched after the body
 * (GET /v1/export/manifest?export_id=): in memory because a manifest is small and only needed
 * right after its export, which saves the API a writable table. Only the credential that ran the
 * export may read its manifest.
 */
export interface ManifestStore {
  put(manifest: ExportManifest, owner: string): void;
  /** The manifest, or undefined when unknown, expired or exported by another credential. */
  get(exportId: string, owner: string): ExportManifest | undefined;
}

export function createManifestStore(o: { ttlMs: number; maxEntries: number; now?: () => number }): ManifestStore {
  const now = o.now ?? Date.now;
  // Map iteration is insertion order: the first entry is the oldest.
  const entries = new Map<string, { manifest: ExportManifest; owner: string; expires: number }>();
  const prune = () => {
    const t = now();
    for (const [id, e] of entries) {
      if (entries.size > o.maxEntries || e.expires <= t) entries.delete(id);
      else break;
    }
  };
  return {
    put(manifest, owner) {
      entries.set(manifest.export_id, { manifest, owner, expires: now() + o.ttlMs });
      prune();
    },
    get(exportId, owner) {
      prune();
      const e = entries.get(exportId);
      return e && e.owner === owner && e.expires > now() ? e.manifest : undefined;
    },
  };
}

/** What the export routes need to sign manifests; absent when api.export_manifest_signing_key[_file] is unset. */
export interface ManifestSigning {
  key: SigningKey;
  store: ManifestStore;
  /** The latest stored checkpoint of a partition (the integrity store's lastCheckpoint). */
  lastCheckpoint(topic: string, partition: number): Promise<Checkpoint | undefined>;
}
