import type { BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, signUp, useBrowser, useServerLog, visit } from '../helpers/browser.ts';
import { flaky, useMeshHook } from '../helpers/meshhook.ts';
import { sessionClient, type SessionClient } from '../helpers/session.ts';
import { waitFor } from '../helpers/wait.ts';

const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };

/** The trimmed text of the first element matching a test id. */
async function textOf(page: Page, testId: string): Promise<string> {
  return ((await page.getByTestId(testId).first().textContent()) ?? '').trim();
}

/** Waits until the element with the test id shows exactly `text`. */
async function showsText(page: Page, testId: string, text: string): Promise<void> {
  // Evaluated in the page, hence a string: the test itself is type-checked without the DOM.
  await page.waitForFunction(
    `document.querySelector('[data-testid=${testId}]')?.textContent.trim() === ${JSON.stringify(text)}`,
  );
}

/** The slugs of the table's rows, top to bottom. */
async function rowOrder(page: Page): Promise<string[]> {
  return page.evaluate(
    `[...document.querySelectorAll('[data-testid=metrics-row]')].map((r) => r.dataset.workflow)`,
  );
}

/** A `datetime-local` value for an instant, in the browser's (and this machine's) time zone. */
function localInput(t: number): string {
  const d = new Date(t);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// --ok and --danger of src/app.css, light and dark.
const LIGHT_OK = [29, 122, 61];
const LIGHT_DANGER = [194, 43, 43];
const DARK_OK = [111, 208, 140];
const DARK_DANGER = [255, 123, 123];

/** Source of a page function: how many opaque pixels of a canvas have the colour. */
const countPixels = `(canvas, [r, g, b]) => {
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < pixels.length; i += 4)
    if (pixels[i] === r && pixels[i + 1] === g && pixels[i + 2] === b && pixels[i + 3] === 255) n++;
  return n;
}`;

/** How many pixels of the trend chart have the colour. */
async function pixelsOf(page: Page, colour: number[]): Promise<number> {
  return page.evaluate(
    `(${countPixels})(document.querySelector('[data-testid=runs-chart]'), ${JSON.stringify(colour)})`,
  );
}

describe.skipIf(!hasChromium)('metrics in Chromium', () => {
  const serverLog = useServerLog();
  const mh = useMeshHook({ logLines: serverLog });
  const web = useBrowser();
  let owner: { context: BrowserContext; page: Page };
  let client: SessionClient;
  const hooks: Record<string, string> = {};

  beforeAll(async () => {
    owner = await web.open();
    await visit(owner.page, `${mh.url}/sign-up`);
    await signUp(owner.page, OWNER);
    // The same account over the API, to publish and trigger without clicking through forms.
    client = sessionClient(mh.url);
    expect((await client.enter('/api/auth/login', OWNER)).status).toBe(200);
  });

  /** Creates and publishes a workflow that fails on `{"ok": false}`. */
  async function publish(slug: string): Promise<void> {
    const created = await client.request('POST', '/api/workflows', {
      slug,
      name: slug,
      definition: flaky(),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const published = await client.request('POST', `/api/workflows/${created.body.id}/publish`);
    expect(published.status, JSON.stringify(published.body)).toBe(201);
    hooks[slug] = published.body.webhook.url;
  }

  /** Runs a workflow to its end; answers the final status. */
  async function run(slug: string, ok: boolean): Promise<string> {
    const started = await mh.trigger(hooks[slug]!, { ok });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    return waitFor(
      async () => {
        const r = await client.request('GET', `/api/runs/${started.body.run_id}`);
        return ['succeeded', 'failed', 'canceled'].includes(r.body?.status) && r.body.status;
      },
      { what: `run ${started.body.run_id} to finish` },
    );
  }

  it('says a project without runs has none, never 0%', async () => {
    const { page } = owner;
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Metrics' })
      .click();
    await page.waitForURL('**/run-metrics');
    await page.getByTestId('metrics-empty').filter({ hasText: 'No runs in this range.' }).waitFor();
    expect(await textOf(page, 'metric-runs')).toBe('0');
    expect(await textOf(page, 'metric-success-rate')).toBe('no runs');
    expect(await textOf(page, 'metrics-table-empty')).toContain('No workflows yet');
    expect(await page.getByTestId('runs-chart').count()).toBe(0);
  });

  it('moves the numbers as runs finish, without reloading the page', async () => {
    await publish('checkout');
    expect(await run('checkout', true)).toBe('succeeded');

    const { page } = owner;
    await visit(page, `${mh.url}/run-metrics`);
    await showsText(page, 'metric-runs', '1');
    await page.locator('[data-testid=metrics-live][data-status=live]').waitFor();
    expect(await textOf(page, 'metric-success-rate')).toBe('100%');
    expect(await textOf(page, 'metric-failures')).toBe('0');
    await page.evaluate('window.loadedBefore = true');

    expect(await run('checkout', true)).toBe('succeeded');
    await showsText(page, 'metric-runs', '2');
    expect(await textOf(page, 'metric-failures')).toBe('0');

    expect(await run('checkout', false)).toBe('failed');
    await showsText(page, 'metric-failures', '1');
    expect(await textOf(page, 'metric-runs')).toBe('3');
    expect(await textOf(page, 'metric-success-rate')).toBe('66.7%');
    // The table moves with the figures: the same request cycle refetched both.
    const row = page.locator('[data-testid=metrics-row][data-workflow=checkout]');
    await row.getByTestId('row-failures').filter({ hasText: '1' }).waitFor();
    expect(((await row.getByTestId('row-runs').textContent()) ?? '').trim()).toBe('3');
    expect(await row.locator('svg.sparkline').getAttribute('data-failed')).toBe('1');
    expect(await row.locator('svg.sparkline title').textContent()).toContain(
      '2 succeeded, 1 failed',
    );
    // Same document all along: no navigation replaced the page.
    expect(await page.evaluate('window.loadedBefore')).toBe(true);
  });

  it('keeps the range in the address and asks the API for it', async () => {
    const { page } = owner;
    await page.locator('[data-testid=metrics-live][data-status=live]').waitFor();
    const asked = page.waitForRequest(
      (r) => new URL(r.url()).pathname === '/api/metrics/buckets' && r.url().includes('range=1h'),
    );
    await page.getByTestId('range-picker').getByRole('button', { name: '1 h' }).click();
    await page.waitForURL('**/run-metrics?range=1h');
    await asked;
    await page.locator('[data-testid=range-picker] [data-range="1h"][aria-pressed=true]').waitFor();
    // Runs that finished just now are in the last hour, drawn by Chart.js in minute buckets.
    await showsText(page, 'metric-runs', '3');
    // 1 h is charted by the minute: the 60 buckets starting in the last hour.
    await page.waitForFunction(`(() => {
      const chart = document.querySelector('[data-testid=runs-chart]');
      return chart?.dataset.runs === '3' && chart.dataset.buckets === '60';
    })()`);
    const painted = await page.evaluate(`(() => {
      const canvas = document.querySelector('[data-testid=runs-chart]');
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) n++;
      return n;
    })()`);
    expect(painted).toBeGreaterThan(100);
    expect(
      await page.locator('[role=img][aria-label*="Runs per minute"]').getAttribute('aria-label'),
    ).toContain('2 succeeded, 1 failed');

    // The bars are drawn in the theme's colours, and redrawn when it changes.
    expect(await pixelsOf(page, LIGHT_OK)).toBeGreaterThan(0);
    expect(await pixelsOf(page, LIGHT_DANGER)).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await page.waitForFunction(
      `(${countPixels})(document.querySelector('[data-testid=runs-chart]'), ${JSON.stringify(DARK_OK)}) > 0`,
    );
    expect(await pixelsOf(page, DARK_DANGER)).toBeGreaterThan(0);
    expect(await pixelsOf(page, LIGHT_OK)).toBe(0);
    await page.getByRole('button', { name: 'Light theme' }).click();
    await page.waitForFunction(
      `(${countPixels})(document.querySelector('[data-testid=runs-chart]'), ${JSON.stringify(LIGHT_OK)}) > 0`,
    );

    // A reload keeps the range.
    await visit(page);
    await page.locator('[data-testid=range-picker] [data-range="1h"][aria-pressed=true]').waitFor();
    await showsText(page, 'metric-runs', '3');

    // A custom range: refused when backwards, in words, then kept in the address.
    await page.getByTestId('range-picker').getByRole('button', { name: 'Custom' }).click();
    const form = page.getByTestId('custom-range');
    const now = Date.now();
    await form.getByLabel('From').fill(localInput(now + 3_600_000));
    await form.getByLabel('To').fill(localInput(now - 3_600_000));
    await form.getByRole('button', { name: 'Apply' }).click();
    await form
      .getByRole('alert')
      .filter({ hasText: 'The start must be before the end.' })
      .waitFor();
    expect(new URL(page.url()).search).toBe('?range=1h');

    // A range that ended an hour ago holds none of the runs.
    await form.getByLabel('From').fill(localInput(now - 3 * 3_600_000));
    await form.getByLabel('To').fill(localInput(now - 3_600_000));
    await form.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL((url) => url.searchParams.has('from') && url.searchParams.has('to'));
    await page.getByTestId('metrics-empty').filter({ hasText: 'No runs in this range.' }).waitFor();
    const url = new URL(page.url());
    expect(Date.parse(url.searchParams.get('to')!)).toBe(
      new Date(localInput(now - 3_600_000)).getTime(),
    );

    // One that reaches past now holds them again.
    await form.getByLabel('To').fill(localInput(now + 3_600_000));
    await form.getByRole('button', { name: 'Apply' }).click();
    await showsText(page, 'metric-runs', '3');
    await visit(page);
    await showsText(page, 'metric-runs', '3');
    expect(await page.getByTestId('custom-range').getByLabel('To').inputValue()).toBe(
      localInput(now + 3_600_000),
    );
  });

  it('sorts the workflows on the server by the header clicked, and filters them', async () => {
    await publish('refunds');
    await publish('archive');
    expect(
      await Promise.all([run('refunds', false), run('refunds', false), run('archive', true)]),
    ).toEqual(['failed', 'failed', 'succeeded']);
    const { page } = owner;
    await visit(page, `${mh.url}/run-metrics`);
    await showsText(page, 'metric-runs', '6');
    // By name first.
    expect(await rowOrder(page)).toEqual(['archive', 'checkout', 'refunds']);
    const header = (name: string) =>
      page.locator('th').filter({ has: page.getByRole('button', { name }) });
    expect(await header('Workflow').getAttribute('aria-sort')).toBe('ascending');

    const sorted = page.waitForRequest(
      (r) => r.url().includes('/api/metrics/workflows/summary') && r.url().includes('sort=failed'),
    );
    await header('Failures').getByRole('button').click();
    await page.waitForURL('**/run-metrics?sort=failed');
    await sorted;
    await page.waitForFunction(
      `[...document.querySelectorAll('[data-testid=metrics-row]')].map((r) => r.dataset.workflow).join() === 'refunds,checkout,archive'`,
    );
    expect(await header('Failures').getAttribute('aria-sort')).toBe('descending');
    expect(await header('Workflow').getAttribute('aria-sort')).toBeNull();
    await web.screenshot(page, 'metrics');

    await header('Failures').getByRole('button').click();
    await page.waitForURL('**/run-metrics?sort=failed&order=asc');
    await page.waitForFunction(
      `[...document.querySelectorAll('[data-testid=metrics-row]')].map((r) => r.dataset.workflow).join() === 'archive,checkout,refunds'`,
    );
    expect(await header('Failures').getAttribute('aria-sort')).toBe('ascending');

    // Failing only: workflows with at least one failure in the range.
    await page.getByTestId('metrics-failing').check();
    await page.waitForFunction(
      `[...document.querySelectorAll('[data-testid=metrics-row]')].map((r) => r.dataset.workflow).join() === 'checkout,refunds'`,
    );
    expect(new URL(page.url()).searchParams.get('failing')).toBe('1');
    await page.getByTestId('metrics-failing').uncheck();

    // The filter box narrows by name, on the server, and is kept in the address.
    await page.getByTestId('metrics-filter').fill('arch');
    await page.waitForURL((u) => u.searchParams.get('q') === 'arch');
    await page.waitForFunction(
      `[...document.querySelectorAll('[data-testid=metrics-row]')].map((r) => r.dataset.workflow).join() === 'archive'`,
    );
    await page.getByTestId('metrics-filter').fill('nothing-like-it');
    await page
      .getByTestId('metrics-table-empty')
      .filter({ hasText: 'No workflow matches the filter.' })
      .waitFor();
    await page.getByTestId('metrics-filter').fill('');
    await page.waitForFunction(
      `document.querySelectorAll('[data-testid=metrics-row]').length === 3`,
    );

    // The figures are the project's, whatever the table shows.
    expect(await textOf(page, 'metric-failures')).toBe('3');

    await page.locator('[data-testid=metrics-row][data-workflow=refunds] a').click();
    await page.waitForURL('**/workflows/refunds');
  });

  it("shows a workflow's own figures on its page, kept live", async () => {
    const { page } = owner;
    const panel = page.getByTestId('workflow-metrics');
    await panel.waitFor();
    await panel.getByTestId('metric-runs').filter({ hasText: '2' }).waitFor();
    expect(((await panel.getByTestId('metric-failures').textContent()) ?? '').trim()).toBe('2');
    expect(((await panel.getByTestId('metric-success-rate').textContent()) ?? '').trim()).toBe(
      '0%',
    );
    await panel.locator('[data-testid=metrics-live][data-status=live]').waitFor();
    await page.evaluate('window.loadedBefore = true');

    // The panel counts this workflow's runs only: another's finishing is not among them.
    expect(await run('archive', true)).toBe('succeeded');
    expect(await run('refunds', true)).toBe('succeeded');
    await panel.getByTestId('metric-runs').filter({ hasText: '3' }).waitFor();
    expect(((await panel.getByTestId('metric-success-rate').textContent()) ?? '').trim()).toBe(
      '33.3%',
    );
    expect(await page.evaluate('window.loadedBefore')).toBe(true);

    await panel.getByRole('button', { name: '7 d' }).click();
    await panel.locator('[data-range="7d"][aria-pressed=true]').waitFor();
    await page.waitForFunction(
      `document.querySelector('[data-testid=workflow-metrics] [data-testid=runs-chart]')?.dataset.runs === '3'`,
    );
  });
});
