-- What the alerts API needs beyond migration 0007: the two writes API callers make into tables
-- only the engine writes, a test delivery in the log and an event in the outbox. Both are
-- security definer functions that check the caller's claims themselves, since the app role has
-- no insert grant on alert_logs or alert_outbox.

-- A test message to a channel: one pending delivery, due now, of an alert of type `test`.
-- Returns its id, or null when the caller cannot see the channel (another project's, or none);
-- 42501 when the caller sees it but is below admin in its project.
create function meshhook.queue_test_delivery(channel uuid) returns uuid
language plpgsql volatile security definer
set search_path = meshhook, pg_temp
as $$
declare
  project uuid;
  delivery uuid := gen_random_uuid();
begin
  select c.project_id into project
  from alert_channels c
  where c.id = channel and c.project_id = any (meshhook.claimed_project_ids());
  if project is null then
    return null;
  end if;
  if meshhook.claimed_rank(project) < 3 then
    raise exception 'sending a test alert needs the admin role or above' using errcode = '42501';
  end if;
  -- The alert as src/core/alert-message.ts takes it; `at` in the form of Date#toISOString.
  insert into alert_logs
    (id, project_id, rule_id, channel_id, group_key, event, status, covers, message_id, alert,
     due_at)
  values (
    delivery, project, null, channel, null, 'test', 'pending', 1, delivery,
    jsonb_build_object(
      'type', 'test', 'project_id', project, 'workflow', null, 'run', null, 'node_id', null,
      'error', null, 'attempts', null, 'covers', 1, 'rule', null, 'criticality', 'normal',
      'template', null,
      'at', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
    now());
  return delivery;
end
$$;
revoke all on function meshhook.queue_test_delivery(uuid) from public;
grant execute on function meshhook.queue_test_delivery(uuid) to meshhook_app;

-- An event put in the outbox by an internal caller (POST /api/alerts/trigger), as if the engine
-- had seen the failure. The caller must be admin or above in the project, and the workflow and
-- run it names must be of that project (and the run of that workflow): 42501 otherwise. Like the
-- engine's own writes, nothing is queued when the project has no enabled rule; returns the
-- outbox row's id, or null then.
create function meshhook.trigger_alert(
  project uuid, event_type text, workflow uuid, run uuid, node text, alert_details jsonb)
returns bigint
language plpgsql volatile security definer
set search_path = meshhook, pg_temp
as $$
declare
  queued bigint;
begin
  if not (project = any (meshhook.claimed_project_ids())) or meshhook.claimed_rank(project) < 3 then
    raise exception 'triggering an alert needs the admin role or above in the project'
      using errcode = '42501';
  end if;
  if workflow is not null
     and not exists (select from workflows w where w.id = workflow and w.project_id = project) then
    raise exception 'the workflow is not of the project' using errcode = '42501';
  end if;
  if run is not null
     and not exists (select from runs r
                     where r.id = run and r.project_id = project
                       and (workflow is null or r.workflow_id = workflow)) then
    raise exception 'the run is not of the project or of the workflow' using errcode = '42501';
  end if;
  insert into alert_outbox (project_id, type, workflow_id, run_id, node_id, details)
  select project, event_type, workflow, run, node, coalesce(alert_details, '{}')
  where meshhook.alerting(project)
  returning id into queued;
  return queued;
end
$$;
revoke all on function meshhook.trigger_alert(uuid, text, uuid, uuid, text, jsonb) from public;
grant execute on function meshhook.trigger_alert(uuid, text, uuid, uuid, text, jsonb)
  to meshhook_app;
