// The Sentry sink alone, in a process of its own (the SDK is global to a process): startSentry
// with the DSN given, then failed-step errors as a worker captures them, handed to the sink one
// every `gap` ms, and the CPU this process spent on each beyond what the same loop costs without
// sending. Prints one JSON line; measureSink in bench/sentry.ts starts it.
//
//   node bench/_sentry-sink.ts <dsn> <events> <gap ms>
import { loadConfig, sentrySettings } from '../src/config.ts';
import { describeError, type CapturedError } from '../src/core/error-events.ts';
import { sentryEventOf } from '../src/core/sentry-event.ts';

/** What the sink cost, in ms of this process's CPU (user + system). */
export interface SinkCost {
  /** Importing @sentry/node and initialising it (startSentry). */
  startMs: number;
  /** Building the Sentry event alone (sentryEventOf), per event. */
  eventOfMs: number;
  /** sink.send and the SDK's sending, per event, the loop's own cost taken off. */
  sendMs: number;
}

const [dsn = '', events = '400', gap = '5'] = process.argv.slice(2);
const n = Number(events);
const gapMs = Number(gap);
const cpuMs = () => {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
};
// As settle-step.ts captures a transform that sum() refused, ending its run.
const failure = (i: number): CapturedError =>
  describeError(`sum() expects numbers, got a string (order-${i})`, {
    source: 'worker',
    errorType: 'expression_error',
    projectId: crypto.randomUUID(),
    workflowId: crypto.randomUUID(),
    runId: crypto.randomUUID(),
    nodeId: 'shape',
    attempt: 1,
    runEnding: true,
    metadata: { max_attempts: 1 },
  });
const pause = () => new Promise((resolve) => setTimeout(resolve, gapMs));

const settings = sentrySettings(loadConfig({ SENTRY_DSN: dsn }));
if (!settings) throw new Error('no Sentry settings from that DSN');
const batch = () => Array.from({ length: n }, (_, i) => failure(i));

const built = batch();
for (const error of built) sentryEventOf(error); // compiled before it is timed
let started = cpuMs();
for (const error of built) sentryEventOf(error);
const eventOfMs = (cpuMs() - started) / n;

started = cpuMs();
const { startSentry } = await import('../src/engine/sentry.ts');
const { sink } = startSentry(settings);
const startMs = cpuMs() - started;
// The first events pay for lazy set-up (the connection, the runtime context): not counted.
for (const error of batch().slice(0, 20)) sink.send(error);
await sink.flush(5_000);

started = cpuMs();
for (let i = 0; i < n; i++) await pause();
const loopMs = (cpuMs() - started) / n;
const errors = batch();
started = cpuMs();
for (const error of errors) {
  sink.send(error);
  await pause();
}
await sink.flush(30_000);
const sendMs = (cpuMs() - started) / n - loopMs;

console.log(JSON.stringify({ startMs, eventOfMs, sendMs } satisfies SinkCost));
