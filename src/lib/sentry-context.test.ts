import { describe, expect, it } from 'vitest';
import { createSentryScrubber } from '../core/scrub-sentry-event.ts';
import {
  pagePath,
  pageTags,
  strippedUrl,
  withPageContext,
  withStrippedUrls,
  type PageContextFields,
} from './sentry-context.ts';

const RUN = '0b5c3b0e-8d1f-4f52-9a57-3f1e0f7c2a11';
const WORKFLOW = '6f1d2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b';
const PROJECT = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const ORIGIN = 'https://meshhook.example.com';

describe('strippedUrl and pagePath', () => {
  it('drop the query string and the hash, and mask an invitation’s token', () => {
    expect(strippedUrl('/errors?token=abc#x')).toBe('/errors');
    expect(strippedUrl('/runs#top')).toBe('/runs');
    expect(strippedUrl(`${ORIGIN}/api/errors?q=boom`)).toBe(`${ORIGIN}/api/errors`);
    expect(strippedUrl('/invite/tok3n?next=/runs')).toBe('/invite/[REDACTED]');
    expect(strippedUrl(`${ORIGIN}/invite/tok3n/x`)).toBe(`${ORIGIN}/invite/[REDACTED]/x`);
    expect(strippedUrl('/workflows/invite/x')).toBe('/workflows/invite/x');
    expect(pagePath(`${ORIGIN}/workflows/shop?tab=runs#log`)).toBe('/workflows/shop');
    expect(pagePath(`${ORIGIN}/invite/tok3n`)).toBe('/invite/[REDACTED]');
    expect(pagePath('/runs?x=1')).toBe('/runs');
  });
});

describe('pageTags', () => {
  it('names the source, the project, and the run or workflow the page shows', () => {
    expect(pageTags({ href: `${ORIGIN}/runs/${RUN}?x=1`, projectId: PROJECT })).toEqual({
      source: 'web',
      project_id: PROJECT,
      run_id: RUN,
    });
    expect(pageTags({ href: `${ORIGIN}/workflows/${WORKFLOW.toUpperCase()}` })).toEqual({
      source: 'web',
      workflow_id: WORKFLOW,
    });
    expect(pageTags({ href: `${ORIGIN}/workflows/shop`, projectId: PROJECT })).toEqual({
      source: 'web',
      project_id: PROJECT,
      workflow: 'shop',
    });
    expect(pageTags({ href: `${ORIGIN}/workflows/new` })).toEqual({ source: 'web' });
    expect(pageTags({ href: `${ORIGIN}/runs/not-a-uuid` })).toEqual({ source: 'web' });
  });
});

describe('withPageContext', () => {
  it('sets the tags, the page as the request, the route and the user’s id alone', () => {
    const event = {
      message: 'boom',
      tags: { kept: 'yes', source: 'sdk' },
      request: { url: `${ORIGIN}/runs/${RUN}?token=abc`, headers: { 'User-Agent': 'x' } },
      user: { id: 'u1', email: 'someone@example.com', ip_address: '10.0.0.1' },
    };
    expect(
      withPageContext(event, {
        href: `${ORIGIN}/runs/${RUN}?token=abc#h`,
        projectId: PROJECT,
        userId: 'u2',
        route: '/runs/[id]',
      }),
    ).toEqual({
      message: 'boom',
      tags: { kept: 'yes', source: 'web', project_id: PROJECT, run_id: RUN },
      request: { url: `${ORIGIN}/runs/${RUN}` },
      transaction: '/runs/[id]',
      user: { id: 'u2' },
    });
  });

  it('leaves no user when nobody is signed in, and keeps the SDK’s transaction without a route', () => {
    const event = { transaction: 'kept', user: { id: 'stale', email: 'a@b.example' } };
    expect(withPageContext(event, { href: `${ORIGIN}/sign-in?next=/x`, route: null })).toEqual({
      transaction: 'kept',
      tags: { source: 'web' },
      request: { url: `${ORIGIN}/sign-in` },
    });
  });

  it('leaves nothing secret once the scrubber has seen the event too', () => {
    const scrub = createSentryScrubber();
    const raised: PageContextFields & Record<string, unknown> = {
      exception: { values: [{ type: 'Error', value: 'Bearer abc.def.ghi password=hunter2' }] },
      extra: { email: 'someone@example.com' },
    };
    const event = withPageContext(raised, {
      href: `${ORIGIN}/invite/tok3n?next=/runs`,
      userId: 'u1',
    });
    const text = JSON.stringify(scrub.event(event));
    for (const secret of ['abc.def.ghi', 'hunter2', 'tok3n', 'next=', 'someone@example.com'])
      expect(text).not.toContain(secret);
    expect(scrub.event(event).request).toEqual({ url: `${ORIGIN}/invite/[REDACTED]` });
  });
});

describe('withStrippedUrls', () => {
  it('strips the addresses of fetches and navigations, and leaves the rest', () => {
    expect(
      withStrippedUrls({
        category: 'fetch',
        data: { method: 'GET', url: '/api/errors?q=secret', status_code: 200 },
      }),
    ).toEqual({ category: 'fetch', data: { method: 'GET', url: '/api/errors', status_code: 200 } });
    expect(
      withStrippedUrls({
        category: 'navigation',
        data: { from: '/invite/tok3n', to: '/errors?token=abc' },
      }),
    ).toEqual({ category: 'navigation', data: { from: '/invite/[REDACTED]', to: '/errors' } });
    const click: { category: string; message: string; data?: Record<string, unknown> } = {
      category: 'ui.click',
      message: 'main > button',
    };
    expect(withStrippedUrls(click)).toBe(click);
  });
});
