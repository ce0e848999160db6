import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import packageJson from '../package.json' with { type: 'json' };
import {
  browserSentrySettings,
  ConfigError,
  loadConfig,
  Secret,
  sentrySettings,
} from './config.ts';
import { createProcessLog } from './engine/process-log.ts';

const DSN = 'https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/4504';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('Sentry configuration', () => {
  it('is off, and costs nothing to read, without SENTRY_DSN', () => {
    const config = loadConfig({});
    expect(config.SENTRY_DSN).toBeUndefined();
    expect(sentrySettings(config)).toBeUndefined();
  });

  it('has its defaults once a DSN is set', () => {
    const settings = sentrySettings(loadConfig({ SENTRY_DSN: DSN }));
    expect(settings).toMatchObject({
      environment: 'production',
      release: `meshhook@${packageJson.version}`,
      sampleRate: 1,
      tracesSampleRate: 0,
      browserReportsItself: false,
      eventsPerIssue: 10,
    });
    expect(settings!.dsn.reveal()).toBe(DSN);
  });

  it('reads every variable', () => {
    const settings = sentrySettings(
      loadConfig({
        SENTRY_DSN: DSN,
        PUBLIC_SENTRY_DSN: 'https://fedcba9876543210@glitchtip.example.com/7',
        SENTRY_ENVIRONMENT: 'staging',
        SENTRY_RELEASE: 'meshhook@1.2.3+abc',
        SENTRY_SAMPLE_RATE: '0.25',
        SENTRY_TRACES_SAMPLE_RATE: '0.1',
        MESHHOOK_SENTRY_ENABLED: 'on',
        MESHHOOK_SENTRY_EVENTS_PER_ISSUE: '0',
      }),
    );
    expect(settings).toMatchObject({
      environment: 'staging',
      release: 'meshhook@1.2.3+abc',
      sampleRate: 0.25,
      tracesSampleRate: 0.1,
      browserReportsItself: true,
      eventsPerIssue: 0,
    });
  });

  it('is switched off by MESHHOOK_SENTRY_ENABLED false or off, and by MESHHOOK_ERROR_CAPTURE off', () => {
    for (const value of ['false', 'off']) {
      expect(
        sentrySettings(loadConfig({ SENTRY_DSN: DSN, MESHHOOK_SENTRY_ENABLED: value })),
      ).toBeUndefined();
    }
    expect(sentrySettings(loadConfig({ SENTRY_DSN: DSN, MESHHOOK_ERROR_CAPTURE: 'off' }))).toBe(
      undefined,
    );
    expect(
      sentrySettings(loadConfig({ SENTRY_DSN: DSN, MESHHOOK_SENTRY_ENABLED: 'true' })),
    ).toBeDefined();
  });

  it("gives the pages their own DSN and the server's environment, release and sample rate", () => {
    const PUBLIC = 'https://fedcba9876543210@glitchtip.example.com/7';
    expect(browserSentrySettings(loadConfig({ SENTRY_DSN: DSN }))).toBeUndefined();
    const settings = browserSentrySettings(
      loadConfig({
        SENTRY_DSN: DSN,
        PUBLIC_SENTRY_DSN: PUBLIC,
        SENTRY_ENVIRONMENT: 'staging',
        SENTRY_RELEASE: 'meshhook@1.2.3',
        SENTRY_SAMPLE_RATE: '0.5',
      }),
    );
    expect(settings).toMatchObject({
      environment: 'staging',
      release: 'meshhook@1.2.3',
      sampleRate: 0.5,
    });
    expect(settings!.dsn.reveal()).toBe(PUBLIC);
    // The pages may report without the server doing so.
    expect(browserSentrySettings(loadConfig({ PUBLIC_SENTRY_DSN: PUBLIC }))).toBeDefined();
    for (const off of [{ MESHHOOK_SENTRY_ENABLED: 'off' }, { MESHHOOK_ERROR_CAPTURE: 'off' }]) {
      expect(browserSentrySettings(loadConfig({ PUBLIC_SENTRY_DSN: PUBLIC, ...off }))).toBe(
        undefined,
      );
    }
  });

  it('reports every bad value at once, without echoing a DSN', () => {
    const found = problems({
      SENTRY_DSN: 'https://o1.ingest.sentry.io/4504',
      PUBLIC_SENTRY_DSN: 'ftp://key@host/1',
      SENTRY_ENVIRONMENT: 'my env',
      SENTRY_RELEASE: 'latest',
      SENTRY_SAMPLE_RATE: '1.5',
      SENTRY_TRACES_SAMPLE_RATE: '-0.1',
      MESHHOOK_SENTRY_ENABLED: 'yes',
    });
    expect(found.map((p) => p.split(':')[0])).toEqual([
      'SENTRY_DSN',
      'PUBLIC_SENTRY_DSN',
      'SENTRY_ENVIRONMENT',
      'SENTRY_RELEASE',
      'SENTRY_SAMPLE_RATE',
      'SENTRY_TRACES_SAMPLE_RATE',
      'MESHHOOK_SENTRY_ENABLED',
    ]);
    expect(found.join('\n')).not.toContain('o1.ingest.sentry.io');
    expect(problems({ SENTRY_DSN: 'https://key@host.example.com/' })).toHaveLength(1);
    expect(problems({ SENTRY_DSN: 'not a url' })).toHaveLength(1);
  });

  it('refuses MESHHOOK_SENTRY_ENABLED on without a DSN', () => {
    expect(problems({ MESHHOOK_SENTRY_ENABLED: 'on' })).toEqual([
      'MESHHOOK_SENTRY_ENABLED: on needs SENTRY_DSN',
    ]);
  });

  it('never prints the DSN: not in JSON, not through inspect, not in a process log line', () => {
    const config = loadConfig({ SENTRY_DSN: DSN, PUBLIC_SENTRY_DSN: DSN });
    const lines: string[] = [];
    createProcessLog({ sink: (line) => lines.push(line) }).info('configuration', { config });
    for (const printed of [
      JSON.stringify(config),
      inspect(config, { depth: 5 }),
      String(config.SENTRY_DSN),
      `${config.PUBLIC_SENTRY_DSN}`,
      ...lines,
    ]) {
      expect(printed).not.toContain('0123456789abcdef');
    }
    expect(lines[0]).toContain('"SENTRY_DSN":"[REDACTED]"');
    expect(new Secret('x').reveal()).toBe('x');
  });
});
