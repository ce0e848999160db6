import type { BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, signUp, useBrowser, useServerLog, visit } from '../helpers/browser.ts';
import { useMeshHook } from '../helpers/meshhook.ts';

const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };
const VIEWER = { email: 'viewer@example.com', password: 'viewer password 1' };

/** Two prices, one branch: the run takes `vip` and skips `small`. */
const ORDERS = {
  nodes: [
    { id: 'hook', type: 'webhook', config: {} },
    { id: 'total', type: 'transform', config: { expression: 'sum(trigger.body.items[].price)' } },
    { id: 'big', type: 'branch', config: { condition: 'steps.total.output > `100`' } },
    {
      id: 'vip',
      type: 'log',
      config: { level: 'info', message: 'big order {{ steps.total.output }}' },
    },
    { id: 'small', type: 'log', config: { level: 'info', message: 'small order' } },
  ],
  edges: [
    { from: 'hook', to: 'total' },
    { from: 'total', to: 'big' },
    { from: 'big', to: 'vip', when: 'true' },
    { from: 'big', to: 'small', when: 'false' },
  ],
};

/** abs() of a missing number fails the `parse` step, and so the run. Deliveries are signed. */
const REJECTS = {
  nodes: [
    {
      id: 'hook',
      type: 'webhook',
      config: { signature: { scheme: 'hmac-sha256', secret: 'whsec-rejects-secret' } },
    },
    { id: 'parse', type: 'transform', config: { expression: 'abs(trigger.body.amount)' } },
  ],
  edges: [{ from: 'hook', to: 'parse' }],
};

const text = async (page: Page, selector: string) =>
  ((await page.locator(selector).first().textContent()) ?? '').trim();

/** Creates a workflow through the New workflow form and opens its page. */
async function createWorkflow(page: Page, name: string, slug: string): Promise<void> {
  await page.getByRole('link', { name: 'New workflow' }).click();
  await page.getByLabel('Name', { exact: true }).fill(name);
  expect(await page.getByLabel('Slug').inputValue()).toBe(slug);
  await page.getByRole('button', { name: 'Create workflow' }).click();
  await page.waitForURL(`**/workflows/${slug}`);
  await page.getByTestId('definition').waitFor();
}

/** Replaces the definition in the editor and publishes it; answers the webhook URL. */
async function publish(page: Page, definition: unknown, version: number): Promise<string> {
  await page.getByTestId('definition').fill(JSON.stringify(definition, null, 2));
  await page.getByRole('button', { name: 'Save and publish' }).click();
  await page
    .getByTestId('published-version')
    .filter({ hasText: `published version ${version}` })
    .waitFor();
  return text(page, '[data-testid=webhook-url]');
}

/** Waits until the run page shows a final status, and answers it. */
async function finalStatus(page: Page): Promise<string> {
  const badge = page.locator('h1 .badge[data-status]');
  // Evaluated in the page, hence a string: the test itself is type-checked without the DOM.
  await page.waitForFunction(
    `['succeeded', 'failed', 'canceled'].includes(
      document.querySelector('h1 .badge[data-status]')?.getAttribute('data-status'))`,
    undefined,
    { timeout: 20_000 },
  );
  return (await badge.getAttribute('data-status')) ?? '';
}

describe.skipIf(!hasChromium)('web app in Chromium', () => {
  const serverLog = useServerLog();
  const mh = useMeshHook({ logLines: serverLog });
  const web = useBrowser();
  let owner: { context: BrowserContext; page: Page };
  let webhookUrl = '';

  beforeAll(async () => {
    owner = await web.open();
  });

  it('serves the pages and the API on one port', async () => {
    const page = await fetch(`${mh.url}/workflows`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    for (const answer of [page, await fetch(`${mh.url}/api/auth/status`)]) {
      expect(answer.headers.get('x-frame-options')).toBe('DENY');
      expect(answer.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('referrer-policy')).toBe('same-origin');
    }
    // API paths never reach the pages: an unknown one still answers the API's JSON error.
    const api = await fetch(`${mh.url}/api/nowhere`);
    expect(api.headers.get('content-type')).toContain('application/json');
    expect(((await api.json()) as any).error.code).toMatch(/^(unauthorized|not_found)$/);
    const hook = await fetch(`${mh.url}/hooks/no-such-token`, { method: 'POST', body: '{}' });
    expect(hook.status).toBe(404);
    expect(((await hook.json()) as any).error.code).toBe('not_found');
    const health = await fetch(`${mh.url}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('signs up the first user from the sign-in page, then closes sign-up', async () => {
    const { page } = owner;
    await visit(page, `${mh.url}/runs`);
    await page.waitForURL('**/sign-in?next=%2Fruns');
    await page.getByRole('link', { name: 'Create the first account' }).waitFor();
    await web.screenshot(page, 'sign-in');

    await page.getByRole('link', { name: 'Create the first account' }).click();
    await page.waitForURL('**/sign-up');
    await signUp(page, OWNER);
    await page.getByText('No workflows yet.').waitFor();
    expect(await text(page, '[data-testid=user-email]')).toBe(OWNER.email);
    expect(await page.getByLabel('Project', { exact: true }).inputValue()).toMatch(
      /^[0-9a-f-]{36}$/,
    );

    const status = await fetch(`${mh.url}/api/auth/status`);
    expect(await status.json()).toEqual({ signup_open: false });
  });

  it('signs out, refuses a wrong password in words, and signs in again', async () => {
    const { page } = owner;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/sign-in');
    await page.getByLabel('E-mail').fill(OWNER.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'password is wrong' }).waitFor();

    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL('**/workflows');
    expect(await text(page, '[data-testid=user-email]')).toBe(OWNER.email);
  });

  it('creates and publishes a workflow, whose webhook run the run page follows to success', async () => {
    const { page } = owner;
    await createWorkflow(page, 'Orders', 'orders');

    // An unknown node type is refused, and the issue names and marks its node.
    const broken = structuredClone(ORDERS);
    broken.nodes[1]!.type = 'transformer';
    await page.getByTestId('definition').fill(JSON.stringify(broken, null, 2));
    await page.getByRole('button', { name: 'Save draft' }).click();
    const issues = page.getByTestId('issues');
    await issues.waitFor();
    expect(await issues.textContent()).toContain('total');
    expect(await issues.textContent()).toContain('unknown node type');
    expect(await page.locator('[data-node=total]').getAttribute('class')).toContain('marked');
    await web.screenshot(page, 'workflow-invalid');

    webhookUrl = await publish(page, ORDERS, 1);
    expect(webhookUrl).toMatch(new RegExp(`^${mh.url}/hooks/`));
    expect(await page.getByTestId('issues').count()).toBe(0);
    const when = await page.locator('[data-testid=dag] .edge-label').allTextContents();
    expect(when.sort()).toEqual(['false', 'true']);
    await web.screenshot(page, 'workflow');

    const delivery = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ price: 60 }, { price: 55 }] }),
    });
    expect(delivery.status).toBe(202);
    const { run_id: runId } = (await delivery.json()) as { run_id: string };

    await visit(page, `${mh.url}/runs/${runId}`);
    expect(await finalStatus(page)).toBe('succeeded');
    const dag = (id: string) => page.locator(`[data-testid=dag] [data-node=${id}]`);
    expect(await dag('total').getAttribute('data-status')).toBe('succeeded');
    expect(await dag('vip').getAttribute('data-status')).toBe('succeeded');
    expect(await dag('small').getAttribute('data-status')).toBe('skipped');
    await page.getByTestId('logs').filter({ hasText: 'big order 115' }).waitFor();
    expect(await page.getByTestId('timeline').textContent()).toContain('run_succeeded');
    await page.locator('[data-testid=step][data-node=total] summary').click();
    const total = page.locator('[data-testid=step][data-node=total]');
    expect(await total.getByTestId('step-output').textContent()).toBe('115');
    expect(JSON.parse((await total.getByTestId('step-input').textContent()) ?? '')).toEqual({
      expression: 'sum(trigger.body.items[].price)',
    });
    await web.screenshot(page, 'run');

    await visit(page, `${mh.url}/runs?workflow=orders`);
    const row = page.getByTestId('run-row').first();
    await row.waitFor();
    expect(await row.locator('[data-status]').getAttribute('data-status')).toBe('succeeded');
    expect(await row.textContent()).toContain('orders');
    await web.screenshot(page, 'runs');

    await visit(page, `${mh.url}/workflows`);
    await page.getByTestId('workflow-row').first().waitFor();
    expect(await page.getByTestId('workflow-row').first().textContent()).toContain('version 1');
    await web.screenshot(page, 'workflows');
  });

  it("shows a failing run's error, from a test event sent by the page", async () => {
    const { page } = owner;
    await visit(page, `${mh.url}/workflows`);
    await createWorkflow(page, 'Rejects', 'rejects');
    await publish(page, REJECTS, 1);
    // The page shows how senders must sign, with the secret hidden until asked for.
    expect(await text(page, '[data-testid=signature-scheme]')).toBe('hmac-sha256');
    expect(await text(page, '[data-testid=secret]')).not.toContain('whsec');
    await page.getByRole('button', { name: 'Show' }).click();
    expect(await text(page, '[data-testid=secret]')).toBe('whsec-rejects-secret');
    // A test event is sent by the server itself: no signature needed.
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByTestId('test-run-link').click();
    await page.waitForURL('**/runs/*');
    expect(await finalStatus(page)).toBe('failed');
    const error = page.getByTestId('run-error');
    expect(await error.textContent()).toContain('at parse');
    expect(
      await page.locator('[data-testid=dag] [data-node=parse]').getAttribute('data-status'),
    ).toBe('failed');
    await page.locator('[data-testid=step][data-node=parse] [data-testid=step-error]').waitFor();
    await web.screenshot(page, 'run-failed');

    await visit(page, `${mh.url}/runs?status=failed`);
    await page.getByTestId('run-row').first().waitFor();
    expect(await page.getByTestId('run-row').count()).toBe(1);
    expect(await page.getByTestId('run-row').first().textContent()).toContain('rejects');
  });

  it('invites a viewer, who sees workflows without edit, publish or test buttons', async () => {
    const { page } = owner;
    await visit(page, `${mh.url}/settings`);
    await page.getByLabel('E-mail to invite').fill(VIEWER.email);
    await page.getByLabel('Role of the invited person').selectOption('viewer');
    await page.getByRole('button', { name: 'Create invitation' }).click();
    const invitation = await page.getByTestId('invitation-url').textContent();
    expect(invitation).toMatch(new RegExp(`^${mh.url}/invite/`));
    await page.getByLabel('Key name').fill('deploy');
    await page.getByRole('button', { name: 'Create key' }).click();
    expect(await page.getByTestId('new-api-key').textContent()).toMatch(/^mh_/);
    await web.screenshot(page, 'settings');

    const viewer = await web.open();
    await visit(viewer.page, invitation!);
    await viewer.page.getByLabel('Password').fill(VIEWER.password);
    await viewer.page.getByRole('button', { name: 'Accept invitation' }).click();
    await viewer.page.waitForURL('**/workflows');
    await viewer.page.getByTestId('workflow-row').first().waitFor();
    expect(await viewer.page.getByRole('link', { name: 'New workflow' }).count()).toBe(0);

    await visit(viewer.page, `${mh.url}/workflows/orders`);
    await viewer.page.getByTestId('definition').waitFor();
    for (const name of ['Save draft', 'Publish', 'Save and publish', 'Send test event']) {
      expect(await viewer.page.getByRole('button', { name }).count(), name).toBe(0);
    }
    expect(await viewer.page.getByTestId('definition').getAttribute('readonly')).not.toBeNull();
    expect(await text(viewer.page, '[data-testid=webhook-url]')).toBe(webhookUrl);
    await web.screenshot(viewer.page, 'workflow-viewer');
    await viewer.context.close();
  });

  it('switches to the dark theme and remembers it', async () => {
    const { page } = owner;
    await visit(page, `${mh.url}/workflows/orders`);
    await page.getByTestId('definition').waitFor();
    await page.getByRole('button', { name: 'Dark theme' }).click();
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    await visit(page);
    await page.getByTestId('definition').waitFor();
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    const background = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(background).toBe('rgb(18, 21, 27)');
    await web.screenshot(page, 'workflow-dark');
  });

  it("answers another project's workflow and run pages with not found, showing nothing of them", async () => {
    const other = await mh.project('Other tenant');
    const flow = { nodes: [{ id: 'hook', type: 'webhook', config: {} }], edges: [] };
    const published = await mh.publish(other.key, 'their-secret-flow', flow);
    const runId = (await mh.trigger(published.hook, { leak: 'top-secret-payload' })).body.run_id;
    await mh.finished(other.key, runId);

    const { page } = owner;
    for (const path of [`/runs/${runId}`, `/workflows/${published.id}`]) {
      await visit(page, `${mh.url}${path}`);
      await page.getByRole('alert').filter({ hasText: 'not found' }).waitFor();
      const html = await page.content();
      expect(html).not.toContain('top-secret-payload');
      expect(html).not.toContain('their-secret-flow');
    }
  });
});
