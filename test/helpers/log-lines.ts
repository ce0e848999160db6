import type pg from 'pg';
import { withTransaction } from '../../src/db/client.ts';
import { appendRunLogs, type NewRunLog } from '../../src/db/queries/run-logs.ts';
import { Notifier } from '../../src/engine/notifier.ts';

/** A run to write lines for. */
export interface RunRef {
  projectId: string;
  workflowId: string;
  runId: string;
}

/** Writes log lines the way the engine does: one transaction per batch, announced after commit. */
export function logWriter(pool: pg.Pool) {
  const notifier = new Notifier(pool);
  return {
    /** Writes one batch for a run; answers the ids, in order. */
    async write(
      run: RunRef,
      lines: Array<Partial<NewRunLog> & { message: string }>,
    ): Promise<string[]> {
      const ids = await withTransaction(pool, async (tx) => {
        const last = await appendRunLogs(tx, {
          ...run,
          lines: lines.map((l) => ({
            nodeId: l.nodeId ?? 'writer',
            ts: l.ts ?? new Date(),
            level: l.level ?? 'info',
            message: l.message,
            fields: l.fields ?? {},
          })),
        });
        const { rows } = await tx.query<{ id: string }>(
          `select l.id::text as id from meshhook.run_logs l where l.run_id = $1 and l.id <= $2::bigint
           order by l.id desc limit $3`,
          [run.runId, last, lines.length],
        );
        return rows.map((r) => r.id).reverse();
      });
      notifier.logs({ projectId: run.projectId, runId: run.runId, lastId: ids.at(-1)! });
      await notifier.flush();
      return ids;
    },
    flush: () => notifier.flush(),
  };
}

/** Creates queued runs of a workflow straight in the database (no worker needed). */
export async function createRuns(
  pool: pg.Pool,
  input: { projectId: string; workflowId: string; count: number },
): Promise<RunRef[]> {
  const { rows } = await pool.query<{ id: string }>(
    `insert into meshhook.runs (project_id, workflow_id, version_id, version, status, trigger)
     select $1::uuid, $2::uuid, v.id, v.version, 'running', '{}'::jsonb
     from meshhook.workflow_versions v, generate_series(1, $3::int)
     where v.workflow_id = $2::uuid and v.version = 1
     returning id`,
    [input.projectId, input.workflowId, input.count],
  );
  if (rows.length !== input.count) throw new Error('publish version 1 of the workflow first');
  return rows.map((r) => ({
    projectId: input.projectId,
    workflowId: input.workflowId,
    runId: r.id,
  }));
}

/**
 * Finishes runs the way the engine does (meshhook.finish_runs, which also counts them), at a
 * chosen time and after a chosen duration. Answers the ids it finished: none that were final.
 */
export async function finishRuns(
  db: Pick<pg.ClientBase, 'query'>,
  runIds: string[],
  input: { status?: string; at?: Date; tookMs?: number } = {},
): Promise<string[]> {
  const at = input.at ?? new Date();
  if (input.tookMs !== undefined) {
    await db.query(`update meshhook.runs set started_at = $2 where id = any($1::uuid[])`, [
      runIds,
      new Date(at.getTime() - input.tookMs),
    ]);
  }
  const { rows } = await db.query<{ id: string }>(
    `select meshhook.finish_runs($1::uuid[], $2::text[], $3::jsonb[], $4) as id`,
    [runIds, runIds.map(() => input.status ?? 'succeeded'), runIds.map(() => null), at],
  );
  return rows.map((r) => r.id);
}
