import type { Grain } from '../../core/metric-range.ts';
import type { Queryable } from '../client.ts';

/**
 * Reads of the error-count rollups (migration 0006): errors by bucket, source, type and
 * severity, for rates that never read the events themselves.
 */

/** Errors of one bucket, source, type and severity, summed over shards and workflows. */
export interface ErrorCountRow {
  /** The bucket's start, epoch ms. */
  bucketStart: number;
  source: string;
  errorType: string;
  severity: string;
  count: number;
}

/**
 * The project's `grain` buckets starting in [from, to), kept apart by bucket, source, type and
 * severity; each list given narrows the read to its values.
 */
export async function readErrorCounts(
  db: Queryable,
  input: {
    projectId: string;
    grain: Grain;
    from: number;
    to: number;
    sources?: readonly string[];
    types?: readonly string[];
    severities?: readonly string[];
    workflowIds?: readonly string[];
  },
): Promise<ErrorCountRow[]> {
  const { rows } = await db.query<{
    bucket_start: Date;
    source: string;
    error_type: string;
    severity: string;
    count: number;
  }>(
    `select c.bucket_start, c.source, c.error_type, c.severity, sum(c.count)::float8 as count
     from error_counts c
     where c.project_id = $1::uuid and c.grain = $2 and c.bucket_start >= $3 and c.bucket_start < $4
       and ($5::text[] is null or c.source = any($5::text[]))
       and ($6::text[] is null or c.error_type = any($6::text[]))
       and ($7::text[] is null or c.severity = any($7::text[]))
       and ($8::uuid[] is null or c.workflow_id = any($8::uuid[]))
     group by c.bucket_start, c.source, c.error_type, c.severity
     order by c.bucket_start, c.source, c.error_type, c.severity`,
    [
      input.projectId,
      input.grain,
      new Date(input.from),
      new Date(input.to),
      input.sources ?? null,
      input.types ?? null,
      input.severities ?? null,
      input.workflowIds ?? null,
    ],
  );
  return rows.map((r) => ({
    bucketStart: r.bucket_start.getTime(),
    source: r.source,
    errorType: r.error_type,
    severity: r.severity,
    count: r.count,
  }));
}
