import type { Claims } from '../db/client.ts';
import type { ProcessLog } from './process-log.ts';

/** Who opened a stream and how to decide again whether they still may read it. */
export interface StreamAccess {
  /** The project the caller was authorised for (under RLS) when the stream opened. */
  projectId: string;
  /** The claims reads for the stream run under, so RLS decides what they return. */
  claims: Claims;
  /** Who the caller is, to find the streams an access change concerns. */
  identity: { keyId?: string; userId?: string };
  /** Re-decides the caller's access to the project; false ends the stream. */
  authorize(): Promise<boolean>;
}

/** The identity as access-change notifications name it: `key:<id>` or `user:<id>`. */
export function identityOf(access: StreamAccess): string {
  const { keyId, userId } = access.identity;
  return keyId ? `key:${keyId}` : `user:${userId}`;
}

/**
 * Decides access again for the streams of the given identities, or all of them, asking once
 * per distinct caller, project and claims, and hands the refused ones to `revoke`. A failed
 * check is not a refusal: the next change or periodic check decides.
 */
export async function recheckAccess<S>(
  streams: Iterable<S>,
  accessOf: (stream: S) => StreamAccess,
  options: { identities?: string[]; revoke(stream: S): void; log: ProcessLog; what: string },
): Promise<void> {
  const wanted = options.identities && new Set(options.identities);
  const groups = new Map<string, S[]>();
  for (const stream of streams) {
    const access = accessOf(stream);
    const who = identityOf(access);
    if (wanted && !wanted.has(who)) continue;
    const group = `${who}/${access.projectId}/${JSON.stringify(access.claims)}`;
    const list = groups.get(group) ?? [];
    list.push(stream);
    groups.set(group, list);
  }
  await Promise.all(
    [...groups.values()].map(async (members) => {
      try {
        if (await accessOf(members[0]!).authorize()) return;
        for (const stream of members) options.revoke(stream);
      } catch (error) {
        options.log.warn(`re-checking ${options.what} access failed`, { error: String(error) });
      }
    }),
  );
}
