// Channels, rules and keys made through the alerts API, for its integration tests.
import { expect } from 'vitest';
import type { TestMeshHook } from './meshhook.ts';

/** A webhook signing secret long enough for a channel (16 characters and more). */
export const WEBHOOK_SECRET = 'whsec_0123456789abcdef';
/** A Slack URL in Slack's shape; its path is the credential. */
export const SLACK_URL = 'https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXWXYZ';

/** A project of the test process and its admin key. */
export type Project = { id: string; key: string };

/** Another key of a project, of the given role. */
export async function keyOf(mh: TestMeshHook, project: Project, role: string): Promise<string> {
  const created = await mh.api(project.key, 'POST', `/api/projects/${project.id}/api-keys`, {
    name: role,
    role,
  });
  expect(created.status).toBe(201);
  return created.body.key;
}

/** A webhook channel body: to a closed port on loopback, with a secret. */
export function webhookChannel(name = 'ops hook', config: Record<string, unknown> = {}) {
  return {
    name,
    type: 'webhook',
    config: { url: 'http://127.0.0.1:9/hook', secret: WEBHOOK_SECRET, ...config },
  };
}

/** Creates a channel through the API and returns its id. */
export async function createChannel(
  mh: TestMeshHook,
  key: string,
  body: unknown = webhookChannel(),
): Promise<string> {
  const created = await mh.api(key, 'POST', '/api/alerts/channels', body);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id;
}

/** Creates a rule through the API (by default on run failures, named "failures"); returns its id. */
export async function createRule(
  mh: TestMeshHook,
  key: string,
  body: Record<string, unknown> & { channels: string[] },
): Promise<string> {
  const created = await mh.api(key, 'POST', '/api/alerts/rules', {
    name: 'failures',
    events: ['run_failed'],
    ...body,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id;
}

/** The paths an error answer's `details.issues` names. */
export const issuePaths = (answer: { body: any }): string[] =>
  (answer.body?.error?.details?.issues ?? []).map((i: { path: string }) => i.path);
