import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, onTestFailed } from 'vitest';

/**
 * The server's log lines of the current test, printed (debug lines aside) when it fails; hand
 * the array to useMeshHook({ logLines }).
 */
export function useServerLog(): string[] {
  const lines: string[] = [];
  beforeEach(() => {
    lines.length = 0;
    onTestFailed(() => {
      const shown = lines.filter((line) => !line.includes('"level":"debug"')).slice(-30);
      console.error(`server log of the failed test:\n  ${shown.join('\n  ')}`);
    });
  });
  return lines;
}

/** The Chromium the browser tests drive: CHROMIUM_PATH, else Debian's package. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * Whether browser tests can run. Without Chromium they are skipped locally, with a message,
 * but fail in CI, where a skipped suite would pass unnoticed.
 */
export const hasChromium = existsSync(CHROMIUM_PATH);
if (!hasChromium) {
  const message = `Chromium not found at ${CHROMIUM_PATH} (set CHROMIUM_PATH, or apt-get install -y chromium)`;
  if (process.env.CI) throw new Error(`${message}: browser tests cannot run in CI without it`);
  console.warn(`${message}: skipping the browser tests`);
}

/** The flags of a quiet, sandbox-free headless Chromium that phones nowhere. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** A laptop screen: the pages must read well at 1366×768. */
export const VIEWPORT = { width: 1366, height: 768 };

// The documentation's screenshots are refreshed on request (npm run screenshots); an ordinary
// test run still takes them, into a scratch folder, so the suite never dirties the tree.
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS
  ? fileURLToPath(new URL('../../docs/screenshots/', import.meta.url))
  : join(tmpdir(), 'meshhook-screenshots/');

/** A headless Chromium for one test file. */
export interface TestBrowser {
  browser: Browser;
  /** A fresh context (its own cookies and storage) with one page; closed with the browser. */
  open(options?: {
    colorScheme?: 'light' | 'dark';
  }): Promise<{ context: BrowserContext; page: Page }>;
  /** Saves a screenshot of the page as docs/screenshots/<name>.png (overwritten each run). */
  screenshot(page: Page, name: string): Promise<void>;
}

/**
 * Launches Chromium before the file's tests and closes it after them, so no browser outlives
 * its file. Playwright gives each launch a fresh, temporary profile directory.
 */
export function useBrowser(): TestBrowser {
  const handle = {} as TestBrowser;
  const journal: string[] = [];
  beforeEach(() => {
    journal.length = 0;
    onTestFailed(() => {
      console.error(`browser journal of the failed test:\n  ${journal.slice(-40).join('\n  ')}`);
    });
  });
  beforeAll(async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: FLAGS,
    });
    Object.assign(handle, {
      browser,
      async open(options = {}) {
        const context = await browser.newContext({
          viewport: VIEWPORT,
          colorScheme: options.colorScheme ?? 'light',
        });
        const page = await context.newPage();
        // Shorter than the test's own timeout, so a stuck step fails naming its locator.
        page.setDefaultTimeout(15_000);
        // What the page went through, printed when a test fails: a browser test that fails
        // without it says only which locator it waited for.
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning')
            journal.push(`console ${m.type()}: ${m.text()}`);
        });
        page.on('pageerror', (e) => journal.push(`page error: ${e.message}`));
        page.on('requestfailed', (r) =>
          journal.push(`request failed: ${r.url()} ${r.failure()?.errorText}`),
        );
        page.on('request', (r) => {
          if (new URL(r.url()).pathname.startsWith('/api/'))
            journal.push(`→ ${r.method()} ${r.url()}`);
        });
        page.on('response', (r) => {
          if (new URL(r.url()).pathname.startsWith('/api/'))
            journal.push(`← ${r.status()} ${r.url()}`);
        });
        page.on('framenavigated', (f) => {
          if (f === page.mainFrame()) journal.push(`navigated: ${f.url()}`);
        });
        return { context, page };
      },
      async screenshot(page, name) {
        await mkdir(SCREENSHOTS, { recursive: true });
        // What a laptop shows on arrival: the top of the page, not where the test scrolled.
        await page.evaluate('window.scrollTo(0, 0)');
        await page.screenshot({ path: `${SCREENSHOTS}${name}.png` });
      },
    } satisfies TestBrowser);
  });
  afterAll(async () => {
    await handle.browser?.close();
  });
  return handle;
}

/** Loads a URL and waits until the app is hydrated, so typing into its forms sticks. */
export async function visit(page: Page, url?: string): Promise<void> {
  if (url === undefined) await page.reload();
  else await page.goto(url);
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached' });
}

/** Fills and sends the sign-up form (the page must be on /sign-up), landing on the workflows. */
export async function signUp(
  page: Page,
  owner: { email: string; password: string },
  projectName = 'Shop',
): Promise<void> {
  // The sign-in page has E-mail and Password fields too: wait for the sign-up form itself.
  await page.getByLabel('Project name').waitFor();
  await page.getByLabel('E-mail').fill(owner.email);
  await page.getByLabel('Password').fill(owner.password);
  await page.getByLabel('Project name').fill(projectName);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/workflows');
}
