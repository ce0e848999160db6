import type { Queryable } from '../client.ts';
import { cursorText, type TimeCursor } from './alert-config.ts';

/**
 * Silences (migration 0007): the alerts of a rule and/or a workflow, or all of a project's,
 * muted for a while. Everything runs under withTenant: viewers read them, members and above
 * write them.
 */

/** A silence: alerts of its rule and/or workflow (or all of the project's) muted for a while. */
export interface SilenceRow {
  id: string;
  projectId: string;
  ruleId: string | null;
  workflowId: string | null;
  startsAt: Date;
  endsAt: Date;
  comment: string | null;
  createdBy: string | null;
  createdAt: Date;
  /** Whether it mutes alerts now. */
  active: boolean;
  position: TimeCursor;
}

interface SilenceDbRow {
  id: string;
  project_id: string;
  rule_id: string | null;
  workflow_id: string | null;
  starts_at: Date;
  ends_at: Date;
  comment: string | null;
  created_by: string | null;
  created_at: Date;
  active: boolean;
  position: string;
}

const SILENCE_COLUMNS = `id, project_id, rule_id, workflow_id, starts_at, ends_at, comment,
  created_by, created_at, (starts_at <= now() and ends_at > now()) as active,
  ${cursorText('created_at')} as position`;

const toSilence = (r: SilenceDbRow): SilenceRow => ({
  id: r.id,
  projectId: r.project_id,
  ruleId: r.rule_id,
  workflowId: r.workflow_id,
  startsAt: r.starts_at,
  endsAt: r.ends_at,
  comment: r.comment,
  createdBy: r.created_by,
  createdAt: r.created_at,
  active: r.active,
  position: { at: r.position, id: r.id },
});

/** Creates a silence; it starts now unless `startsAt` says otherwise. */
export async function createSilence(
  db: Queryable,
  input: {
    projectId: string;
    ruleId: string | null;
    workflowId: string | null;
    startsAt: Date | null;
    endsAt: Date;
    comment: string | null;
    createdBy: string | null;
  },
): Promise<SilenceRow> {
  const { rows } = await db.query<SilenceDbRow>(
    `insert into alert_silences (project_id, rule_id, workflow_id, starts_at, ends_at, comment,
                                 created_by)
     values ($1::uuid, $2::uuid, $3::uuid, coalesce($4::timestamptz, now()), $5, $6, $7::uuid)
     returning ${SILENCE_COLUMNS}`,
    [
      input.projectId,
      input.ruleId,
      input.workflowId,
      input.startsAt,
      input.endsAt,
      input.comment,
      input.createdBy,
    ],
  );
  return toSilence(rows[0]!);
}

/** One silence; undefined when it does not exist or the caller cannot see it. */
export async function findSilence(db: Queryable, id: string): Promise<SilenceRow | undefined> {
  const { rows } = await db.query<SilenceDbRow>(
    `select ${SILENCE_COLUMNS} from alert_silences where id = $1::uuid`,
    [id],
  );
  return rows[0] && toSilence(rows[0]);
}

/**
 * A page of a project's silences, newest first. `active` true: those muting now; false: those
 * ended or not started yet; undefined: all.
 */
export async function listSilences(
  db: Queryable,
  input: { projectId: string; active?: boolean; limit: number; after?: TimeCursor },
): Promise<SilenceRow[]> {
  const { rows } = await db.query<SilenceDbRow>(
    `select ${SILENCE_COLUMNS} from alert_silences
     where project_id = $1::uuid
       and ($2::boolean is null or (starts_at <= now() and ends_at > now()) = $2::boolean)
       and ($3::text is null or (created_at, id) < ($3::timestamptz, $4::uuid))
     order by created_at desc, id desc
     limit $5`,
    [
      input.projectId,
      input.active ?? null,
      input.after?.at ?? null,
      input.after?.id ?? null,
      input.limit,
    ],
  );
  return rows.map(toSilence);
}

/**
 * Ends a silence now. One that has started is kept, ending now, so the log's "muted until"
 * reasons still point at a row; one that has not started yet never muted anything and is
 * deleted. False when it is not visible or not writable.
 */
export async function endSilence(db: Queryable, id: string): Promise<boolean> {
  const { rows } = await db.query<{ id: string }>(
    `with ended as (
       update alert_silences set ends_at = least(ends_at, now())
       where id = $1::uuid and starts_at < now()
       returning id
     ), dropped as (
       delete from alert_silences
       where id = $1::uuid and starts_at >= now()
       returning id
     )
     select id from ended union all select id from dropped`,
    [id],
  );
  return rows.length > 0;
}
