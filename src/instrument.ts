// Sets up Sentry before the rest of MeshHook loads, when SENTRY_DSN is set. bin/meshhook.js
// imports this module first and the CLI after it (`await import`), rather than asking for
// `node --import`: that covers every way of starting MeshHook (npm start, npx meshhook, the bin
// on PATH, a process manager) with no Node flag to forget. Loading first matters for tracing
// (SENTRY_TRACES_SAMPLE_RATE above 0): the SDK's module hooks must be in place before the HTTP
// and PostgreSQL modules they instrument are loaded, and with the CLI imported dynamically after
// this module, they are. Reporting errors alone needs no hook.
//
// Only the long-running roles report to Sentry; other commands (migrate, logs, …) skip it and
// its ~350 ms of loading. startProcess calls the same startSentry, which initialises once, so a
// process started without this module (tests, embedders) gets the same set-up.

import { loadConfig, sentrySettings, type SentrySettings } from './config.ts';

// The roles of src/cli.ts that run a MeshHook process.
const ROLES = new Set(['start', 'web', 'worker']);

const command = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
if (command !== undefined && ROLES.has(command)) {
  let settings: SentrySettings | undefined;
  try {
    settings = sentrySettings(loadConfig());
  } catch {
    // An invalid configuration: the CLI reports every problem when it loads it again.
  }
  if (settings) {
    const { startSentry } = await import('./engine/sentry.ts');
    startSentry(settings);
  }
}
