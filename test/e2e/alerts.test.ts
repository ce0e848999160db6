import { createHmac } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, signUp, useBrowser, useServerLog, visit } from '../helpers/browser.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { sessionClient, type SessionClient } from '../helpers/session.ts';
import { waitFor } from '../helpers/wait.ts';

const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };
const VIEWER = { email: 'viewer@example.com', password: 'viewer password 1' };
const SECRET = 'whsec_alerts_0123456789';

/** A run of this workflow always fails, at its `boom` node. */
const FAILING = chain({
  id: 'boom',
  type: 'terminate',
  config: { status: 'failed', message: 'the order was refused' },
});

/** The trimmed text of the first element matching a test id, within `scope`. */
async function textOf(scope: Page, testId: string): Promise<string> {
  return ((await scope.getByTestId(testId).first().textContent()) ?? '').trim();
}

/** The requests the receiver got at a path, parsed. */
const received = (receiver: Receiver, path: string) =>
  receiver.to(path).map((r) => ({ ...r, json: JSON.parse(r.body) as Record<string, any> }));

describe.skipIf(!hasChromium)('alerts in Chromium', () => {
  const serverLog = useServerLog();
  const mh = useMeshHook({
    logLines: serverLog,
    env: { MESHHOOK_ALERT_POLL_INTERVAL_MS: '200', MESHHOOK_ALERT_THRESHOLD_INTERVAL_MS: '200' },
  });
  const web = useBrowser();
  let receiver: Receiver;
  let owner: { context: BrowserContext; page: Page };
  let client: SessionClient;
  let key = '';

  beforeAll(async () => {
    receiver = await startReceiver();
    owner = await web.open();
    await visit(owner.page, `${mh.url}/sign-up`);
    await signUp(owner.page, OWNER);
    // The same account over the API, for a key to publish and trigger workflows with.
    client = sessionClient(mh.url);
    expect((await client.enter('/api/auth/login', OWNER)).status).toBe(200);
    const created = await client.request('POST', `/api/projects/${client.project}/api-keys`, {
      name: 'e2e',
      role: 'admin',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    key = created.body.key;
  });
  afterAll(async () => {
    await receiver?.close();
  });

  it('configures a webhook channel and shows its test message as it is sent', async () => {
    const { page } = owner;
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Alerts' })
      .click();
    await page.waitForURL('**/alerts');
    await page.getByTestId('channels-empty').waitFor();

    await page.getByRole('button', { name: 'New channel' }).click();
    const form = page.getByTestId('channel-form');
    await form.getByLabel('Name', { exact: true }).fill('ops hook');
    expect(await form.getByLabel('Type', { exact: true }).inputValue()).toBe('webhook');
    await form.getByLabel('URL', { exact: true }).fill(`${receiver.url}/hook`);
    await form.getByLabel('Secret (optional)').fill(SECRET);
    await form.getByRole('button', { name: 'Create channel' }).click();

    const row = page.getByTestId('channel-row').filter({ hasText: 'ops hook' });
    await row.waitFor();
    expect(await page.getByTestId('channel-form').count()).toBe(0);
    expect(await row.getByTestId('channel-target').textContent()).toBe(`${receiver.url}/hook`);
    expect(await row.textContent()).toContain(`signed, secret ••••${SECRET.slice(-4)}`);
    expect(await row.getByTestId('channel-last').textContent()).toContain('never used');
    // The secret itself never reaches the page.
    await visit(page);
    await row.waitFor();
    expect(await page.content()).not.toContain(SECRET);

    await row.getByRole('button', { name: 'Send test' }).click();
    const result = page.locator('[data-testid=channel-test][data-status=sent]');
    await result.waitFor();
    expect(((await result.textContent()) ?? '').replace(/\s+/g, ' ').trim()).toMatch(
      /^Test sent .+, HTTP 200, \d+ ms\. In the log$/,
    );

    const [test] = received(receiver, '/hook');
    expect(received(receiver, '/hook')).toHaveLength(1);
    expect(test!.method).toBe('POST');
    expect(test!.json).toMatchObject({ version: '1', type: 'test' });
    const signature = String(test!.headers['meshhook-signature']);
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature) ?? [];
    expect(v1).toBe(createHmac('sha256', SECRET).update(`${t}.${test!.body}`).digest('hex'));

    // The list shows the channel's last delivery once the test settled.
    await row.locator('[data-testid=channel-last] [data-status=sent]').waitFor();
  });

  it('shows the API’s problem with a threshold at its field, and saves it once fixed', async () => {
    const { page } = owner;
    await page
      .getByRole('navigation', { name: 'Alerts' })
      .getByRole('link', { name: 'Rules' })
      .click();
    await page.waitForURL('**/alerts/rules');
    await page.getByTestId('rules-empty').waitFor();

    await page.getByRole('button', { name: 'New rule' }).click();
    const form = page.getByTestId('rule-form');
    await form.getByLabel('Name', { exact: true }).fill('failing streak');
    await form.getByRole('radio', { name: 'A threshold' }).check();
    await form.getByLabel('Metric', { exact: true }).selectOption('consecutive_failures');
    await form.getByLabel('Comparison', { exact: true }).selectOption('>=');
    await form.getByLabel('Value', { exact: true }).fill('1');
    await form.getByLabel('Window', { exact: true }).fill('30s');
    await form.getByRole('checkbox', { name: /ops hook/ }).check();
    // The defaults are shown, not hidden behind empty fields.
    expect(await form.getByLabel('Group wait', { exact: true }).inputValue()).toBe('30s');
    expect(await form.getByLabel('Repeat interval', { exact: true }).inputValue()).toBe('4h');
    expect(await form.getByTestId('template-placeholders').textContent()).toContain(
      '{{workflow.slug}}',
    );
    await form.getByRole('button', { name: 'Create rule' }).click();

    const problem = form.locator('[data-field="threshold.window"] [data-testid=field-problem]');
    await problem.waitFor();
    expect(await problem.textContent()).toBe('must be between 1m and 7d');
    expect(await form.getByLabel('Window', { exact: true }).getAttribute('aria-invalid')).toBe(
      'true',
    );
    expect(await form.getByRole('alert').first().textContent()).toContain('The rule was not saved');
    expect(await form.locator('[data-testid=field-problem]').count()).toBe(1);
    expect(await page.getByTestId('rule-row').count()).toBe(0);

    await form.getByLabel('Window', { exact: true }).fill('1h');
    await form.getByRole('button', { name: 'Create rule' }).click();
    const row = page.getByTestId('rule-row').filter({ hasText: 'failing streak' });
    await row.waitFor();
    expect(await row.getByTestId('rule-trigger').textContent()).toBe(
      'Failures in a row over 1h ≥ 1',
    );
    expect(await row.textContent()).toContain('every workflow');
    expect(await row.locator('[data-state]').textContent()).toBe('ok');
  });

  it('alerts on a failed run: the delivery and its attempt in the log, the threshold firing', async () => {
    const orders = await mh.publish(key, 'orders', FAILING);
    const { page } = owner;
    await visit(page, `${mh.url}/alerts/rules`);
    await page.getByRole('button', { name: 'New rule' }).click();
    const form = page.getByTestId('rule-form');
    await form.getByLabel('Name', { exact: true }).fill('orders failing');
    await form.getByLabel('Workflow', { exact: true }).selectOption({ label: 'orders' });
    expect(await form.getByRole('checkbox', { name: 'Run failed' }).isChecked()).toBe(true);
    await form.getByRole('checkbox', { name: /ops hook/ }).check();
    await form.getByLabel('Group wait', { exact: true }).fill('0s');
    await form.getByRole('button', { name: 'Create rule' }).click();
    const row = page.getByTestId('rule-row').filter({ hasText: 'orders failing' });
    await row.waitFor();
    expect(await row.getByTestId('rule-trigger').textContent()).toBe('When a run fails');
    expect(await row.textContent()).toContain('orders');
    expect(await row.textContent()).toContain('wait 0s');

    const started = await mh.trigger(orders.hook, { order: 42 });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const run = await mh.finished(key, started.body.run_id);
    expect(run.status).toBe('failed');
    const alert = await waitFor(
      () => received(receiver, '/hook').find((r) => r.json.type === 'run_failed'),
      { what: 'the run_failed alert at the receiver' },
    );
    expect(alert.json).toMatchObject({
      workflow: { id: orders.id, slug: 'orders' },
      run: { id: run.id },
      rule: { name: 'orders failing' },
    });

    await page
      .getByRole('navigation', { name: 'Alerts' })
      .getByRole('link', { name: 'Log' })
      .click();
    await page.waitForURL('**/alerts/log');
    await page.getByTestId('log-event-filter').selectOption('run_failed');
    await page.waitForURL((u) => u.searchParams.get('event') === 'run_failed');
    const delivery = page.locator('[data-testid=log-row][data-event=run_failed][data-status=sent]');
    await delivery.waitFor();
    expect(await page.getByTestId('log-row').count()).toBe(1);
    expect(await delivery.textContent()).toContain('orders failing');
    expect(await delivery.getByTestId('log-channel').textContent()).toBe('ops hook');
    expect(await delivery.textContent()).toContain(`run ${run.id.slice(0, 8)}`);
    await delivery.getByTestId('log-toggle').click();
    const attempts = page.getByTestId('log-attempt');
    await attempts.first().waitFor();
    expect(await attempts.count()).toBe(1);
    const cells = (await attempts.first().locator('td').allTextContents()).map((c) => c.trim());
    expect(cells).toEqual([
      '1',
      expect.any(String),
      'sent',
      '200',
      '',
      expect.stringMatching(/^\d+ ms$/),
    ]);
    // The filter is the address: a reload shows the same rows.
    await visit(page);
    await delivery.waitFor();
    expect(await page.getByTestId('log-event-filter').inputValue()).toBe('run_failed');

    // The failed run makes a streak of one: the threshold fires, and every page says so.
    await waitFor(
      async () =>
        (await client.request('GET', '/api/alerts/rules')).body.items.some(
          (r: any) => r.name === 'failing streak' && r.state === 'firing',
        ),
      { what: 'the threshold rule to fire' },
    );
    await visit(page, `${mh.url}/alerts/log`);
    const banner = page.getByTestId('firing-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toMatch(
      /Failing now:\s*failing streak\s*Failures in a row 1/,
    );
    await page.locator('[data-testid=log-row][data-status=sent]').first().waitFor();
    await page.getByTestId('log-toggle').first().click();
    await web.screenshot(page, 'alerts');

    await banner.getByRole('link', { name: 'failing streak' }).click();
    await page.waitForURL(/\/alerts\/rules\?rule=[0-9a-f-]{36}$/);
    const firing = page.locator('[data-testid=rule-row].pointed');
    await firing.waitFor();
    expect(await firing.textContent()).toContain('failing streak');
    expect(await firing.locator('[data-state]').textContent()).toBe('firing');
  });

  it('shows a viewer the rules, silences and log without their write controls', async () => {
    const invited = await client.request('POST', `/api/projects/${client.project}/invitations`, {
      email: VIEWER.email,
      role: 'viewer',
    });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    const viewer = await web.open();
    await visit(viewer.page, `${mh.url}/invite/${invited.body.token}`);
    await viewer.page.getByLabel('Password').fill(VIEWER.password);
    await viewer.page.getByRole('button', { name: 'Accept invitation' }).click();
    await viewer.page.waitForURL('**/workflows');

    await visit(viewer.page, `${mh.url}/alerts/rules`);
    await viewer.page.getByTestId('rules-read-only').waitFor();
    await viewer.page.getByTestId('rule-row').filter({ hasText: 'orders failing' }).waitFor();
    expect(await viewer.page.getByRole('button', { name: 'New rule' }).count()).toBe(0);
    expect(await viewer.page.getByRole('button', { name: 'Edit' }).count()).toBe(0);

    // The API shows channels to members and above: the page says so in the API's words.
    await visit(viewer.page, `${mh.url}/alerts`);
    await viewer.page.getByTestId('channels-forbidden').waitFor();
    expect(await textOf(viewer.page, 'channels-forbidden')).toContain(
      'your role in this project does not allow it',
    );
    expect(await viewer.page.getByRole('button', { name: 'New channel' }).count()).toBe(0);

    await visit(viewer.page, `${mh.url}/alerts/silences`);
    await viewer.page.getByTestId('silences-read-only').waitFor();
    expect(await viewer.page.getByRole('button', { name: 'New silence' }).count()).toBe(0);

    await visit(viewer.page, `${mh.url}/alerts/log`);
    await viewer.page.locator('[data-testid=log-row][data-event=run_failed]').waitFor();
    await viewer.context.close();
  });
});
