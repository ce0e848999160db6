import type pg from 'pg';
import { validateDefinition, type Definition } from '../core/definition.ts';
import { createRedactor } from '../core/redact.ts';
import { findWorkflowVersion } from '../db/queries/workflows.ts';
import type { LineRedactor } from './run-logger.ts';

/** A published version that no longer validates: its runs fail instead of being retried. */
export class UnrunnableVersionError extends Error {
  constructor(versionId: string, reason: string) {
    super(`workflow version ${versionId} cannot run: ${reason}`);
    this.name = 'UnrunnableVersionError';
  }
}

/** A published version, ready to execute. */
export interface LoadedVersion {
  definition: Definition;
  /** Masks the version's own secrets (signature secrets) besides the built-in rules. */
  redactor: LineRedactor;
}

/**
 * Published versions are immutable, so each process loads a version once and keeps it; the
 * bound only matters for installations with very many workflows.
 */
export class DefinitionCache {
  readonly #pool: pg.Pool;
  readonly #versions = new Map<string, Promise<LoadedVersion>>();
  readonly #limit: number;

  constructor(pool: pg.Pool, limit = 2_000) {
    this.#pool = pool;
    this.#limit = limit;
  }

  /** The version with that id; throws when it does not exist or no longer validates. */
  get(versionId: string): Promise<LoadedVersion> {
    let loaded = this.#versions.get(versionId);
    if (!loaded) {
      loaded = this.#load(versionId);
      loaded.catch(() => this.#versions.delete(versionId));
      if (this.#versions.size >= this.#limit) {
        this.#versions.delete(this.#versions.keys().next().value!);
      }
      this.#versions.set(versionId, loaded);
    }
    return loaded;
  }

  async #load(versionId: string): Promise<LoadedVersion> {
    const row = await findWorkflowVersion(this.#pool, versionId);
    if (!row) throw new Error(`workflow version ${versionId} not found`);
    const valid = validateDefinition(row.definition);
    if (!valid.ok) {
      const first = valid.error[0]!;
      throw new UnrunnableVersionError(versionId, `${first.path}: ${first.message}`);
    }
    return {
      definition: valid.value,
      redactor: createRedactor({ secrets: secretsOf(valid.value) }),
    };
  }
}

/** The secret values a definition holds, to mask wherever they could surface. */
export function secretsOf(definition: Definition): string[] {
  const secrets: string[] = [];
  for (const node of definition.nodes) {
    if (node.type === 'webhook' && node.config.signature)
      secrets.push(node.config.signature.secret);
  }
  return secrets;
}
