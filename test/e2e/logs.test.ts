import { readFile } from 'node:fs/promises';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, signUp, useBrowser, useServerLog, visit } from '../helpers/browser.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { sessionClient, type SessionClient } from '../helpers/session.ts';
import { waitFor } from '../helpers/wait.ts';

const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };

/** Three lines, one a warning and one an error, then a call the receiver holds, then one more. */
function gated(receiverUrl: string) {
  return chain(
    { id: 'before', type: 'log', config: { level: 'info', message: 'before the gate' } },
    { id: 'stock', type: 'log', config: { level: 'warn', message: 'stock is low' } },
    {
      id: 'payment',
      type: 'log',
      config: {
        level: 'error',
        message: 'payment declined for order {{ trigger.body.order }}',
        fields: { order: '{{ trigger.body.order }}' },
      },
    },
    {
      id: 'gate',
      type: 'http_call',
      config: { method: 'GET', url: `${receiverUrl}/gate`, timeout_ms: 60_000 },
    },
    { id: 'after', type: 'log', config: { level: 'info', message: 'after the Gate opened' } },
  );
}

const TICKER = {
  nodes: [
    { id: 'hook', type: 'webhook', config: {} },
    { id: 'tick', type: 'log', config: { level: 'info', message: 'tick {{ trigger.body.n }}' } },
  ],
  edges: [{ from: 'hook', to: 'tick' }],
};

/** The messages of the rows the viewer shows, top to bottom. */
async function messages(page: Page): Promise<string[]> {
  return page.locator('[data-testid=log-line] .message .text').allTextContents();
}

/** A computed style property of the first element matching the selector. */
async function style(page: Page, selector: string, property: string): Promise<string> {
  // Evaluated in the page, hence a string: the test itself is type-checked without the DOM.
  return page.evaluate(
    `getComputedStyle(document.querySelector(${JSON.stringify(selector)}))[${JSON.stringify(property)}]`,
  );
}

/** Waits until a row whose message contains `text` is shown, and answers it. */
async function row(page: Page, text: string) {
  const found = page.getByTestId('log-line').filter({ hasText: text });
  await found.first().waitFor();
  return found.first();
}

describe.skipIf(!hasChromium)('log viewer in Chromium', () => {
  const serverLog = useServerLog();
  const mh = useMeshHook({ logLines: serverLog });
  const web = useBrowser();
  let receiver: Receiver;
  let owner: { context: BrowserContext; page: Page };
  let client: SessionClient;
  let openGate: () => void = () => {};
  let gatedHook = '';
  let gatedRunId = '';

  beforeAll(async () => {
    receiver = await startReceiver();
    receiver.on('/gate', (_request, response) => {
      openGate = () => response.writeHead(200, { 'content-type': 'text/plain' }).end('open');
    });
    owner = await web.open();
    const { page } = owner;
    await visit(page, `${mh.url}/sign-up`);
    await signUp(page, OWNER);
    // The same account over the API, to publish and trigger without clicking through forms.
    client = sessionClient(mh.url);
    expect((await client.enter('/api/auth/login', OWNER)).status).toBe(200);
  });
  afterAll(() => receiver?.close());

  /** Creates and publishes a workflow in the owner's project; answers its webhook URL. */
  async function publish(slug: string, definition: unknown): Promise<string> {
    const created = await client.request('POST', '/api/workflows', {
      slug,
      name: slug,
      definition,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const published = await client.request('POST', `/api/workflows/${created.body.id}/publish`);
    expect(published.status, JSON.stringify(published.body)).toBe(201);
    return published.body.webhook.url;
  }

  it("shows a run's lines as they are written, errors and warnings coloured and counted", async () => {
    gatedHook = await publish('checkout', gated(receiver.url));
    gatedRunId = (await mh.trigger(gatedHook, { order: 'A-17' })).body.run_id;
    // The run is parked at the gate: three lines are written, the last one is not.
    await waitFor(() => receiver.to('/gate').length > 0, { what: 'the run to reach the gate' });

    const { page } = owner;
    await visit(page, `${mh.url}/runs/${gatedRunId}`);
    await row(page, 'payment declined for order A-17');
    expect(await messages(page)).toEqual([
      'before the gate',
      'stock is low',
      'payment declined for order A-17',
    ]);
    // Fields follow the message, on the same row.
    expect(await (await row(page, 'payment declined')).locator('.fields').textContent()).toBe(
      '{"order":"A-17"}',
    );
    const status = page.getByTestId('log-status');
    expect(await status.getAttribute('data-status')).toBe('live');

    // The error row is marked and coloured; the toolbar counts it and the warning.
    const error = await row(page, 'payment declined');
    expect(await error.getAttribute('data-level')).toBe('error');
    const errorRow = '[data-testid=log-line][data-level=error]';
    expect(await style(page, errorRow, 'backgroundColor')).toBe('rgb(253, 236, 236)');
    expect(await style(page, errorRow, 'borderLeftColor')).toBe('rgb(194, 43, 43)');
    const warning = await row(page, 'stock is low');
    expect(await warning.getAttribute('data-level')).toBe('warn');
    const warnRow = '[data-testid=log-line][data-level=warn]';
    expect(await style(page, warnRow, 'backgroundColor')).toBe('rgb(255, 243, 214)');
    expect(await style(page, '[data-testid=log-line][data-level=info]', 'backgroundColor')).toBe(
      'rgba(0, 0, 0, 0)',
    );
    expect(await page.getByTestId('log-error-count').getAttribute('data-count')).toBe('1');
    expect(await page.getByTestId('log-error-count').textContent()).toBe('1 error');
    expect(await page.getByTestId('log-warn-count').getAttribute('data-count')).toBe('1');

    // A line written after the page loaded appears in the same page, without a reload.
    await page.evaluate('window.loadedBefore = true');
    openGate();
    await row(page, 'after the Gate opened');
    expect(await page.evaluate('window.loadedBefore')).toBe(true);
    expect(await messages(page)).toEqual([
      'before the gate',
      'stock is low',
      'payment declined for order A-17',
      `GET ${receiver.url}/gate → 200`,
      'after the Gate opened',
    ]);
    // The run is final: the stream ended and is not reopened.
    await page.locator('[data-testid=log-status][data-status=ended]').waitFor();
    expect(await status.textContent()).toContain('run succeeded');
    await page.locator('h1 .badge[data-status=succeeded]').waitFor();
    await web.screenshot(page, 'run-logs');
  });

  it('searches on the server and highlights the matches, and filters by level', async () => {
    const { page } = owner;
    await page.getByTestId('log-search').fill('GATE');
    await page.waitForFunction(
      `document.querySelectorAll('[data-testid=log-line]').length === 3 &&
        document.querySelector('[data-testid=log-status]')?.dataset.status === 'ended'`,
    );
    expect(await messages(page)).toEqual([
      'before the gate',
      `GET ${receiver.url}/gate → 200`,
      'after the Gate opened',
    ]);
    // Each match is marked, in the case it was written.
    const marks = await page.locator('[data-testid=log-line] mark').allTextContents();
    expect(marks).toEqual(['gate', 'gate', 'Gate']);
    expect(await page.getByTestId('log-error-count').getAttribute('data-count')).toBe('0');

    await page.getByTestId('log-search').fill('');
    await page.getByTestId('log-level').selectOption('warn');
    await page.waitForFunction(
      `document.querySelectorAll('[data-testid=log-line]').length === 2 &&
        document.querySelector('[data-testid=log-status]')?.dataset.status === 'ended'`,
    );
    const levels = await page.evaluate(
      `[...document.querySelectorAll('[data-testid=log-line]')].map((r) => r.dataset.level)`,
    );
    expect(levels).toEqual(['warn', 'error']);
    expect(await page.locator('[data-testid=log-line] mark').count()).toBe(0);
  });

  it('jumps from a line to its step, shows the whole line, and downloads NDJSON', async () => {
    const { page } = owner;
    await page.getByTestId('log-level').selectOption('debug');
    const error = await row(page, 'payment declined');
    await error.getByRole('button', { name: 'Jump to step payment' }).click();
    await page.locator('[data-testid=dag] [data-node=payment].selected').waitFor();
    expect(await page.locator('[data-testid=step][data-node=payment]').getAttribute('open')).toBe(
      '',
    );

    await error.locator('.message').click();
    expect(await page.getByTestId('log-detail').textContent()).toContain('"order": "A-17"');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download as NDJSON' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`run-${gatedRunId}-logs.ndjson`);
    const text = await readFile((await download.path())!, 'utf8');
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.message)).toEqual([
      'before the gate',
      'stock is low',
      'payment declined for order A-17',
      `GET ${receiver.url}/gate → 200`,
      'after the Gate opened',
    ]);
    expect(lines.every((l) => l.run_id === gatedRunId)).toBe(true);
    const stored = await client.request('GET', `/api/runs/${gatedRunId}/logs`);
    expect(lines).toEqual(stored.body.items);

    // Copy puts the same NDJSON on the clipboard.
    await owner.context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await page.getByRole('button', { name: 'Copy as NDJSON' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied 5 lines' }).waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(text);
  });

  it("tails the project's lines live on the Logs page, by workflow, with pause", async () => {
    const tickerHook = await publish('ticker', TICKER);
    const { page } = owner;
    await visit(page, `${mh.url}/workflows`);
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Logs' })
      .click();
    await page.waitForURL('**/logs');
    // The backlog: the checkout run's lines.
    await row(page, 'after the Gate opened');
    await page.locator('[data-testid=log-status][data-status=live]').waitFor();

    const first = (await mh.trigger(tickerHook, { n: 1 })).body.run_id;
    const tick = await row(page, 'tick 1');
    expect(await tick.getByTestId('log-run').getAttribute('href')).toBe(`/runs/${first}`);

    await page.getByTestId('log-workflow').selectOption('ticker');
    await page.waitForURL('**/logs?workflow=ticker');
    await page.waitForFunction(
      `[...document.querySelectorAll('[data-testid=log-line] .message .text')].map((m) => m.textContent).join() === 'tick 1'`,
    );

    // Paused, new lines wait behind a marker that shows them.
    await page.getByTestId('log-pause').click();
    await mh.trigger(tickerHook, { n: 2 });
    await page.getByTestId('log-new-lines').filter({ hasText: '1 new line' }).waitFor();
    expect(await messages(page)).toEqual(['tick 1']);
    await page.getByTestId('log-new-lines').click();
    await row(page, 'tick 2');
    expect(await page.getByTestId('log-new-lines').count()).toBe(0);
    expect(await page.getByTestId('log-pause').textContent()).toBe('Pause');

    // Back to every workflow: the URL follows the filters.
    await page.getByTestId('log-workflow').selectOption('');
    await page.waitForURL((url) => url.pathname === '/logs' && url.search === '');
    await row(page, 'payment declined');
    await row(page, 'tick 2');
    await web.screenshot(page, 'logs');

    await tick.getByTestId('log-run').click();
    await page.waitForURL(`**/runs/${first}`);
    await row(page, 'tick 1');
  });
});
