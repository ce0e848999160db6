import type { BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, signUp, useBrowser, useServerLog, visit } from '../helpers/browser.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { sessionClient, type SessionClient } from '../helpers/session.ts';

const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };
const VIEWER = { email: 'viewer@example.com', password: 'viewer password 1' };

/** abs() of a missing number fails the `parse` step at run time, and so the run. */
const PARSE = chain({
  id: 'parse',
  type: 'transform',
  config: { expression: 'abs(trigger.body.amount)' },
});

/** The trimmed text of the first element matching a test id, within `scope`. */
async function textOf(scope: Page, testId: string): Promise<string> {
  return ((await scope.getByTestId(testId).first().textContent()) ?? '').trim();
}

/** Waits until the element with the test id shows exactly `text`. */
async function showsText(page: Page, testId: string, text: string): Promise<void> {
  // Evaluated in the page, hence a string: the test itself is type-checked without the DOM.
  await page.waitForFunction(
    `document.querySelector('[data-testid=${testId}]')?.textContent.trim() === ${JSON.stringify(text)}`,
  );
}

/** The titles of the issues list's rows, top to bottom. */
async function rowTitles(page: Page): Promise<string[]> {
  return page.evaluate(
    `[...document.querySelectorAll('[data-testid=issue-row] [data-testid=issue-title]')].map((a) => a.textContent.trim())`,
  );
}

/** Waits until the issues list shows exactly these titles (each matched by a fragment), in order. */
async function showsRows(page: Page, fragments: string[]): Promise<void> {
  await page.waitForFunction(
    `(() => {
      const titles = [...document.querySelectorAll('[data-testid=issue-row] [data-testid=issue-title]')].map((a) => a.textContent);
      const wanted = ${JSON.stringify(fragments)};
      return titles.length === wanted.length && wanted.every((w, i) => titles[i].includes(w));
    })()`,
  );
}

describe.skipIf(!hasChromium)('errors in Chromium', () => {
  const serverLog = useServerLog();
  const mh = useMeshHook({ logLines: serverLog });
  const web = useBrowser();
  let owner: { context: BrowserContext; page: Page };
  let client: SessionClient;
  let failedRun = '';
  let workflowId = '';

  beforeAll(async () => {
    owner = await web.open();
    await visit(owner.page, `${mh.url}/sign-up`);
    await signUp(owner.page, OWNER);
    // The same account over the API, to publish and trigger without clicking through forms.
    client = sessionClient(mh.url);
    expect((await client.enter('/api/auth/login', OWNER)).status).toBe(200);
  });

  it('says a project without errors has none', async () => {
    const { page } = owner;
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Errors' })
      .click();
    await page.waitForURL('**/errors');
    await page
      .getByTestId('errors-empty')
      .filter({ hasText: 'No errors in this range.' })
      .waitFor();
    expect(await textOf(page, 'error-total')).toBe('0');
    expect(await textOf(page, 'error-per-run')).toBe('no runs');
    expect(await textOf(page, 'error-open-issues')).toBe('0');
    expect(await textOf(page, 'issues-empty')).toBe('No open issues.');
    expect(await page.getByTestId('errors-chart').count()).toBe(0);
  });

  it('shows an error thrown in a page live, and the event on its issue page', async () => {
    const { page } = owner;
    // A query string may hold a token: the report names the path only.
    await visit(page, `${mh.url}/errors?token=secret-in-the-address`);
    await page.locator('[data-testid=metrics-live][data-status=live]').waitFor();
    await page.evaluate('window.loadedBefore = true');

    await page.evaluate(() =>
      setTimeout(() => {
        throw new Error('boom from the page');
      }),
    );
    await page.evaluate(() => {
      void Promise.reject(new Error('rejected in the page'));
    });
    // Both arrive without a reload: the stream said errors were captured.
    await page.waitForFunction(`document.querySelectorAll('[data-testid=issue-row]').length === 2`);
    expect(await page.evaluate('window.loadedBefore')).toBe(true);
    expect((await rowTitles(page)).sort().join('\n')).toMatch(
      /boom from the page[\s\S]*rejected in the page/,
    );
    await showsText(page, 'error-total', '2');
    expect(await textOf(page, 'error-open-issues')).toBe('2');
    const row = page.getByTestId('issue-row').filter({ hasText: 'boom from the page' });
    expect(await row.textContent()).toContain('browser_error');
    expect(await row.textContent()).toContain('web');
    expect(await row.locator('[data-severity]').textContent()).toBe('medium');
    expect(await row.locator('[data-status]').last().textContent()).toBe('unresolved');
    expect(((await row.getByTestId('issue-count').textContent()) ?? '').trim()).toBe('1');
    const rejected = page.getByTestId('issue-row').filter({ hasText: 'rejected in the page' });
    expect(await rejected.textContent()).toContain('unhandled_rejection');
    // Medium errors are edged in the warning colour (--warn of src/app.css, light).
    expect(
      await page.evaluate(`(() => {
        const row = [...document.querySelectorAll('[data-testid=issue-row]')].find((r) =>
          r.textContent.includes('boom from the page'));
        return getComputedStyle(row.querySelector('td')).borderLeftColor;
      })()`),
    ).toBe('rgb(138, 90, 0)');
    // The chart drew them, by severity.
    await page.waitForFunction(
      `document.querySelector('[data-testid=errors-chart]')?.dataset.errors === '2'`,
    );

    await row.getByTestId('issue-title').click();
    await page.waitForURL(/\/errors\/[0-9a-f-]{36}$/);
    expect(await textOf(page, 'issue-heading')).toContain('boom from the page');
    expect(await page.getByTestId('issue-status').textContent()).toBe('unresolved');
    expect(await textOf(page, 'issue-count')).toBe('1');
    const event = page.getByTestId('issue-event').first();
    expect(((await event.getByTestId('event-message').textContent()) ?? '').trim()).toBe(
      'boom from the page',
    );
    await event.getByText('Stack').click();
    expect(await event.getByTestId('event-stack').textContent()).toContain('boom from the page');
    await event.getByText('Metadata').click();
    const metadata = JSON.parse((await event.getByTestId('event-metadata').textContent()) ?? '');
    expect(metadata).toMatchObject({
      page: '/errors',
      user_agent: expect.stringContaining('Chrome'),
    });
    expect(JSON.stringify(metadata)).not.toContain('secret');
    expect(await page.getByTestId('issue-runs').count()).toBe(0);
    expect(
      await page.getByText('No run: these errors happened outside workflow runs.').count(),
    ).toBe(1);
  });

  it("counts a failed step's error on the run page and the workflow page", async () => {
    const created = await client.request('POST', '/api/workflows', {
      slug: 'parse',
      name: 'parse',
      definition: PARSE,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    workflowId = created.body.id;
    const published = await client.request('POST', `/api/workflows/${workflowId}/publish`);
    expect(published.status, JSON.stringify(published.body)).toBe(201);
    const started = await mh.trigger(published.body.webhook.url, { amount: null });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    failedRun = started.body.run_id;

    const { page } = owner;
    await visit(page, `${mh.url}/runs/${failedRun}`);
    await page.getByTestId('run-error').first().waitFor();
    await page.locator('h1 [data-status=failed]').waitFor();
    const section = page.getByTestId('run-errors');
    await section.getByTestId('run-error-count').filter({ hasText: '1 issue' }).waitFor();
    const issue = section.getByTestId('run-error-issue');
    expect(await issue.count()).toBe(1);
    expect(await issue.textContent()).toContain('parse');

    await issue.getByRole('link').click();
    await page.waitForURL(/\/errors\/[0-9a-f-]{36}$/);
    const runs = page.getByTestId('issue-runs');
    await runs.waitFor();
    expect(await runs.getByRole('link').textContent()).toBe(failedRun.slice(0, 8));
    expect(await page.getByRole('link', { name: 'parse', exact: true }).count()).toBeGreaterThan(0);
    expect(
      ((await page.getByTestId('event-message').first().textContent()) ?? '').length,
    ).toBeGreaterThan(0);

    // The workflow's page counts it among its errors of the last 24 hours.
    await visit(page, `${mh.url}/workflows/parse`);
    const panel = page.getByTestId('workflow-errors');
    await panel.getByTestId('workflow-error-total').filter({ hasText: '1' }).waitFor();
    expect(((await panel.getByTestId('workflow-open-issues').textContent()) ?? '').trim()).toBe(
      '1',
    );
    await panel.getByTestId('workflow-open-issues').getByRole('link').click();
    await page.waitForURL(`**/errors?workflow=${workflowId}`);
    await page.getByTestId('workflow-scope').filter({ hasText: 'parse' }).waitFor();
    await page.waitForFunction(`document.querySelectorAll('[data-testid=issue-row]').length === 1`);
    expect(await textOf(page, 'error-total')).toBe('1');
    expect(await textOf(page, 'error-per-run')).toBe('1');
  });

  it('groups the chart and sorts and filters the issues, on the server', async () => {
    const { page } = owner;
    await visit(page, `${mh.url}/errors`);
    await page.waitForFunction(`document.querySelectorAll('[data-testid=issue-row]').length === 3`);
    await showsText(page, 'error-total', '3');
    const header = (name: string) =>
      page.locator('th').filter({ has: page.getByRole('button', { name }) });
    expect(await header('Last seen').getAttribute('aria-sort')).toBe('descending');
    // The worker's error (its title is the expression's message) is the latest.
    expect((await rowTitles(page))[0]).toContain('abs(');
    await page.waitForFunction(
      `document.querySelector('[data-testid=errors-chart]')?.dataset.series === 'high,medium,low'`,
    );
    await web.screenshot(page, 'errors');

    await page
      .getByRole('group', { name: 'Group the chart by' })
      .getByRole('button', { name: 'Source' })
      .click();
    await page.waitForURL('**/errors?group=source');
    await page.waitForFunction(
      `document.querySelector('[data-testid=errors-chart]')?.dataset.series === 'worker,web'`,
    );
    await visit(page);
    await page.locator('[data-group=source][aria-pressed=true]').waitFor();

    const sorted = page.waitForRequest(
      (r) => new URL(r.url()).pathname === '/api/errors' && r.url().includes('sort=first_seen'),
    );
    await header('First seen').getByRole('button').click();
    await page.waitForURL('**/errors?sort=first_seen&group=source');
    await sorted;
    expect(await header('First seen').getAttribute('aria-sort')).toBe('descending');
    await header('First seen').getByRole('button').click();
    await page.waitForURL('**/errors?sort=first_seen&order=asc&group=source');
    await showsRows(page, ['page', 'page', 'abs(']);
    expect(await header('First seen').getAttribute('aria-sort')).toBe('ascending');
    expect(await header('Last seen').getAttribute('aria-sort')).toBeNull();

    await page.getByTestId('source-filter').selectOption('worker');
    await page.waitForURL((u) => u.searchParams.get('source') === 'worker');
    await showsRows(page, ['abs(']);
    // The figures are the project's, whatever the list shows.
    expect(await textOf(page, 'error-total')).toBe('3');
    await page.getByTestId('source-filter').selectOption('');

    await page.getByTestId('issues-filter').fill('boom');
    await page.waitForURL((u) => u.searchParams.get('q') === 'boom');
    await showsRows(page, ['boom from the page']);
    await page.getByTestId('issues-filter').fill('nothing like it');
    await page
      .getByTestId('issues-empty')
      .filter({ hasText: 'No issue matches the filters.' })
      .waitFor();
  });

  it('moves a resolved issue out of the open list', async () => {
    const { page } = owner;
    await visit(page, `${mh.url}/errors?q=boom`);
    await showsRows(page, ['boom from the page']);
    await page.getByTestId('issue-title').click();
    await page.waitForURL(/\/errors\/[0-9a-f-]{36}$/);
    const issueUrl = page.url();
    await page.getByTestId('issue-actions').getByRole('button', { name: 'Resolve' }).click();
    await page.locator('[data-testid=issue-status] [data-status=resolved]').waitFor();
    await page.getByTestId('issue-actions').getByRole('button', { name: 'Reopen' }).waitFor();
    expect(
      await page.getByTestId('issue-actions').getByRole('button', { name: 'Resolve' }).count(),
    ).toBe(0);

    await visit(page, `${mh.url}/errors`);
    await page.waitForFunction(`document.querySelectorAll('[data-testid=issue-row]').length === 2`);
    expect((await rowTitles(page)).some((t) => t.includes('boom'))).toBe(false);
    await showsText(page, 'error-open-issues', '2');

    await page.getByTestId('status-filter').getByRole('button', { name: 'Resolved' }).click();
    await page.waitForURL('**/errors?status=resolved');
    await showsRows(page, ['boom from the page']);
    expect(await page.getByTestId('issue-row').locator('[data-status=resolved]').count()).toBe(1);
    await page.getByTestId('status-filter').getByRole('button', { name: 'All' }).click();
    await page.waitForFunction(`document.querySelectorAll('[data-testid=issue-row]').length === 3`);

    // A viewer reads the issue but is offered no way to change it.
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
    await visit(viewer.page, issueUrl);
    await viewer.page.getByTestId('issue-read-only').waitFor();
    expect(await viewer.page.getByTestId('issue-actions').count()).toBe(0);
    expect(await textOf(viewer.page, 'issue-heading')).toContain('boom from the page');
    await viewer.context.close();
  });
});
