// Channels and rules written straight into the database (as the engine reads them), for tests of
// the alert engine that do not go through the API.
import type pg from 'pg';
import { validateChannel } from '../../src/core/alert-channels.ts';
import { validateRule } from '../../src/core/alert-rules.ts';

/** Creates a channel of the project from an API-shaped body; returns its id. */
export async function createChannel(
  pool: pg.Pool,
  projectId: string,
  body: { name?: string; type: string; config: Record<string, unknown> },
): Promise<string> {
  const valid = validateChannel({ name: body.name ?? `${body.type} channel`, ...body });
  if (!valid.ok) throw new Error(`bad channel: ${JSON.stringify(valid.error)}`);
  const { rows } = await pool.query<{ id: string }>(
    `insert into meshhook.alert_channels (project_id, name, type, config)
     values ($1, $2, $3, $4) returning id`,
    [projectId, valid.value.name, valid.value.type, JSON.stringify(valid.value.config)],
  );
  return rows[0]!.id;
}

/** Creates a rule of the project from an API-shaped body; returns its id. */
export async function createRule(
  pool: pg.Pool,
  projectId: string,
  body: Record<string, unknown>,
): Promise<string> {
  const valid = validateRule({ name: 'rule', workflow_id: null, ...body });
  if (!valid.ok) throw new Error(`bad rule: ${JSON.stringify(valid.error)}`);
  const rule = valid.value;
  const { rows } = await pool.query<{ id: string }>(
    `insert into meshhook.alert_rules
       (project_id, workflow_id, name, kind, enabled, channels, definition)
     values ($1, $2, $3, $4, $5, $6, $7) returning id`,
    [
      projectId,
      rule.workflow_id,
      rule.name,
      rule.events ? 'events' : 'threshold',
      rule.enabled,
      rule.channels,
      JSON.stringify(rule),
    ],
  );
  return rows[0]!.id;
}

/** The alert log of a project as the owner sees it, oldest first. */
export async function alertLog(pool: pg.Pool, projectId: string) {
  const { rows } = await pool.query<{
    id: string;
    rule_id: string | null;
    channel_id: string | null;
    event: string;
    status: string;
    covers: number;
    message_id: string | null;
    covered_by: string | null;
    reason: string | null;
    attempts: number;
    last_error: string | null;
    run_id: string | null;
  }>(
    `select id, rule_id, channel_id, event, status, covers, message_id, covered_by, reason,
            attempts, last_error, run_id
     from meshhook.alert_logs where project_id = $1 order by created_at, id`,
    [projectId],
  );
  return rows;
}
