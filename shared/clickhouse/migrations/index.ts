import type { Migration } from '../src/migrate.js';
import { migration as m001 } from './001_events.js';
import { migration as m002 } from './002_lookups.js';
import { migration as m003 } from './003_integrity.js';
import { migration as m004 } from './004_operations.js';
import { migration as m005 } from './005_subject_keys.js';
import { migration as m006 } from './006_events_source_key.js';
import { migration as m007 } from './007_checkpoints_fork_key.js';
import { migration as m008 } from './008_checkpoints_tree_head.js';
import { migration as m009 } from './009_events_producer.js';
import { migration as m010 } from './010_saved_searches.js';
import { migration as m011 } from './011_query_rollups.js';
import { migration as m012 } from './012_exact_counts.js';
import { migration as m013 } from './013_merkle_subtrees.js';
import { migration as m014 } from './014_events_by_resource_rows.js';

/** Every migration, in order. A new migration is a new NNN_name.ts file added here; applied ones never change. */
export const MIGRATIONS: readonly Migration[] = [m001, m002, m003, m004, m005, m006, m007, m008, m009, m010, m011, m012, m013, m014];
