import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { ERRORS_CHANNEL } from '../../src/db/queries/error-events.ts';
import { createRuns } from '../helpers/log-lines.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { sessionClient, type SessionClient } from '../helpers/session.ts';
import { waitFor } from '../helpers/wait.ts';

const mh = useMeshHook();

const report = {
  source: 'worker',
  error_type: 'http_5xx',
  severity: 'high',
  message: 'charge failed for order 1234',
};

let browser: SessionClient;
let userId: string;
let projectId: string;
let key: string;

beforeAll(async () => {
  browser = sessionClient(mh.url);
  const signup = await browser.enter('/api/auth/signup', {
    email: 'reporter@example.com',
    password: 'correct horse battery',
    project_name: 'Reporting',
  });
  expect(signup.status).toBe(201);
  userId = signup.body.user.id;
  projectId = signup.body.project.id;
  key = (await keyOf('internal', 'member')).key;
});

/** A new key of the browser's project. */
async function keyOf(name: string, role = 'admin'): Promise<{ id: string; key: string }> {
  const created = await browser.request('POST', `/api/projects/${projectId}/api-keys`, {
    name,
    role,
  });
  expect(created.status).toBe(201);
  return created.body;
}

const post = (apiKey: string, body: unknown) => mh.api(apiKey, 'POST', '/api/error-events', body);

/** Error events stored for a project, counted as the owner (no RLS). */
async function storedCount(project: string): Promise<number> {
  const { rows } = await mh.db.pool.query(
    `select count(*)::int as n from meshhook.error_events where project_id = $1`,
    [project],
  );
  return rows[0].n;
}

describe('reporting an error', () => {
  it('stores it as an event of its issue, of the run’s workflow, and announces it', async () => {
    const flow = await mh.publish(key, 'payments', chain());
    const [run] = await createRuns(mh.db.pool, { projectId, workflowId: flow.id, count: 1 });
    const listener = new pg.Client({ connectionString: mh.db.url });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    await listener.query(`listen ${ERRORS_CHANNEL}`);
    try {
      const stack = 'Error: charge failed\n    at charge (/srv/app/billing.ts:10:5)';
      const posted = await post(key, {
        ...report,
        stack,
        run_id: run!.runId,
        node_id: 'charge',
        metadata: { order: 1234, tags: ['a'] },
      });
      expect(posted.status).toBe(202);
      expect(Object.keys(posted.body)).toEqual(['id']);
      await waitFor(() => heard.some((p) => p.split(',').includes(projectId)), {
        timeoutMs: 5_000,
        what: 'the errors notification',
      });

      const issues = await mh.api(key, 'GET', `/api/errors?run=${run!.runId}`);
      expect(issues.body.items).toHaveLength(1);
      expect(issues.body.items[0]).toMatchObject({
        title: report.message,
        source: 'worker',
        error_type: 'http_5xx',
        severity: 'high',
        status: 'unresolved',
        count: 1,
        workflow_id: flow.id,
        node_id: 'charge',
      });
      const issue = await mh.api(key, 'GET', `/api/errors/${issues.body.items[0].id}`);
      expect(issue.body.events).toEqual([
        {
          id: posted.body.id,
          ts: issues.body.items[0].last_seen,
          source: 'worker',
          error_type: 'http_5xx',
          severity: 'high',
          message: report.message,
          stack,
          workflow_id: flow.id,
          run_id: run!.runId,
          node_id: 'charge',
          user_id: null,
          metadata: { order: 1234, tags: ['a'] },
        },
      ]);
      expect(issue.body.runs).toEqual([
        { run_id: run!.runId, count: 1, last_seen: issues.body.items[0].last_seen },
      ]);
    } finally {
      await listener.end();
    }
  });

  it('takes web errors from a signed-in browser, with its user, and only those', async () => {
    const web = { ...report, source: 'web', error_type: 'browser_error', severity: 'medium' };
    const posted = await browser.request('POST', '/api/error-events', web);
    expect(posted.status).toBe(202);
    const { rows } = await mh.db.pool.query(
      `select user_id, source from meshhook.error_events where error_id = $1`,
      [posted.body.id],
    );
    expect(rows).toEqual([{ user_id: userId, source: 'web' }]);

    const before = await storedCount(projectId);
    const worker = await browser.request('POST', '/api/error-events', report);
    expect([worker.status, worker.body.error.code]).toEqual([422, 'validation_failed']);
    expect(worker.body.error.details.issues[0].path).toBe('source');
    expect(worker.body.error.message).toContain('source');
    const forged = await browser.request('POST', '/api/error-events', web, {
      'x-csrf-token': 'no',
    });
    expect([forged.status, forged.body.error.code]).toEqual([403, 'csrf_failed']);
    expect(await storedCount(projectId)).toBe(before);
  });

  it('refuses bad bodies (400, 413, 422 naming the field) and stores none of them', async () => {
    const p = await mh.project('invalid-reports');
    const invalid: Array<[unknown, string]> = [
      [{ ...report, severity: 'urgent' }, 'severity'],
      [{ ...report, source: 'mars' }, 'source'],
      [{ ...report, error_type: 'Not-A-Type' }, 'error_type'],
      [{ ...report, message: 5 }, 'message'],
      [{ ...report, message: '' }, 'message'],
      [{ ...report, message: 'x'.repeat(16_385) }, 'message'],
      [{ ...report, stack: 7 }, 'stack'],
      [{ ...report, node_id: 'n'.repeat(201) }, 'node_id'],
      [{ ...report, metadata: [1, 2] }, 'metadata'],
      [{ ...report, metadata: 'text' }, 'metadata'],
      [{ ...report, run_id: 'not-a-uuid' }, 'run_id'],
      [{ ...report, run_id: crypto.randomUUID() }, 'run_id'],
      [{ ...report, workflow_id: crypto.randomUUID() }, 'workflow_id'],
      [{ source: 'api', message: 'no type' }, 'error_type'],
    ];
    for (const [body, field] of invalid) {
      const answer = await post(p.key, body);
      expect([field, answer.status, answer.body.error.code]).toEqual([
        field,
        422,
        'validation_failed',
      ]);
      expect(answer.body.error.details.issues[0].path).toBe(field);
    }
    const unknownKey = await post(p.key, { ...report, extra: true });
    expect([unknownKey.status, unknownKey.body.error.code]).toEqual([422, 'validation_failed']);
    expect(unknownKey.body.error.message).toContain('extra');

    const raw = (body: string, type = 'application/json') =>
      fetch(`${mh.url}/api/error-events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${p.key}`, 'content-type': type },
        body,
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    const badJson = await raw('{"source":');
    expect([badJson.status, badJson.body.error.code]).toEqual([400, 'invalid_json']);
    const huge = await raw(JSON.stringify({ ...report, stack: 's'.repeat(70_000) }));
    expect([huge.status, huge.body.error.code]).toEqual([413, 'payload_too_large']);
    expect(huge.body.error.details).toEqual({ limit_bytes: 65_536 });
    const text = await raw(JSON.stringify(report), 'text/plain');
    expect(text.status).toBe(415);

    expect(await storedCount(p.id)).toBe(0);
    // The same report, valid, is stored.
    expect((await post(p.key, report)).status).toBe(202);
    expect(await storedCount(p.id)).toBe(1);
  });

  it('limits each caller to a burst of 30, with Retry-After, and keeps callers apart', async () => {
    const p = await mh.project('flood');
    const answers = await Promise.all(
      Array.from({ length: 35 }, (_, i) => post(p.key, { ...report, message: `flood ${i}` })),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(30);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
    const limited = answers.find((a) => a.status === 429)!;
    expect(limited.body.error.code).toBe('rate_limited');
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.body.error.details).toEqual({ retry_after_s: 1 });
    expect(await storedCount(p.id)).toBe(30);
    // Another caller has its own bucket.
    expect((await post(key, { ...report, message: 'not flooding' })).status).toBe(202);
  });

  it('masks secrets in the message and the metadata before they are stored', async () => {
    const posted = await post(key, {
      ...report,
      message: 'payments API refused: Authorization: Bearer xyzSECRETTOKEN0123456789',
      metadata: { password: 'hunter2-hunter2', customer: 'c-1' },
    });
    expect(posted.status).toBe(202);
    const { rows } = await mh.db.pool.query(
      `select e.message, e.metadata, i.title
       from meshhook.error_events e join meshhook.error_issues i on i.id = e.issue_id
       where e.error_id = $1`,
      [posted.body.id],
    );
    expect(rows).toEqual([
      {
        message: 'payments API refused: Authorization: Bearer [REDACTED]',
        title: 'payments API refused: Authorization: Bearer [REDACTED]',
        metadata: { password: '[REDACTED]', customer: 'c-1' },
      },
    ]);
    expect(JSON.stringify(rows)).not.toMatch(/xyzSECRET|hunter2/);
  });
});
