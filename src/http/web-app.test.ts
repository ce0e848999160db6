import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorCaptureOf } from '../engine/web-app-errors.ts';
import { isApiPath, loadWebApp, routeRequests } from './web-app.ts';

describe('isApiPath', () => {
  it('matches the API prefixes as whole path segments', () => {
    for (const path of [
      '/api',
      '/api/runs',
      '/api?x=1',
      '/hooks/abc',
      '/healthz',
      '/readyz',
      '/metrics',
    ])
      expect(isApiPath(path), path).toBe(true);
    for (const path of ['/', '/apiary', '/workflows', '/hooksmith', '/metrics-page', undefined])
      expect(isApiPath(path), String(path)).toBe(false);
  });
});

describe('routeRequests', () => {
  const request = (url: string) => ({ url }) as IncomingMessage;
  const sent = new Map<string, string>();
  const response = {
    setHeader: (name: string, value: string) => void sent.set(name, value),
  } as unknown as ServerResponse;

  it('sends API paths to the API, pages to the web app, and what it leaves to the API', () => {
    const seen: string[] = [];
    const listener = routeRequests({
      api: (req) => void seen.push(`api ${req.url}`),
      webApp: (req, _res, next) => {
        if (req.url === '/missing') return next();
        seen.push(`web ${req.url}`);
      },
    });
    for (const url of ['/api/workflows', '/runs', '/missing']) listener(request(url), response);
    expect(seen).toEqual(['api /api/workflows', 'web /runs', 'api /missing']);
  });

  it("hands the web app's requests the capture its hooks report to, and only those", () => {
    const errors = { capture: () => undefined };
    const seen: Array<[string, unknown]> = [];
    const listener = routeRequests({
      api: (req) => void seen.push([`api ${req.url}`, errorCaptureOf(req)]),
      webApp: (req) => void seen.push([`web ${req.url}`, errorCaptureOf(req)]),
      errors,
    });
    for (const url of ['/runs', '/api/runs']) listener(request(url), response);
    expect(seen).toEqual([
      ['web /runs', errors],
      ['api /api/runs', undefined],
    ]);
  });

  it('lets the API answer everything when the web app is not built', () => {
    const seen: string[] = [];
    const listener = routeRequests({ api: (req) => void seen.push(req.url!), webApp: undefined });
    listener(request('/runs'), response);
    expect(seen).toEqual(['/runs']);
  });
});

describe('loadWebApp', () => {
  it('answers undefined without a build, and the handler of one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshhook-web-'));
    try {
      expect(await loadWebApp(join(dir, 'handler.js'))).toBeUndefined();
      await writeFile(join(dir, 'handler.js'), 'export const handler = () => "served";\n');
      const handler = await loadWebApp(join(dir, 'handler.js'));
      expect(handler?.({} as IncomingMessage, {} as ServerResponse, () => {})).toBe('served');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
