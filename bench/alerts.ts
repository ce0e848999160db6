// Failure alerts: how soon a failure reaches its webhook (latency), what the evaluators and
// dispatchers do with a steady stream of failures across many throttled rules (throttle), and
// how fast the dispatchers empty a backlog of deliveries beside plain POSTs to the same receiver
// (capacity). Each part runs one `meshhook web` and one `meshhook worker` on a fresh database.
//
//   npm run bench -- alerts                                     (all three parts, about 2 minutes)
//   npm run bench -- alerts --part latency --failures 300 --rate 10
//   npm run bench -- alerts --part throttle --seconds 60 --per-minute 1000 --rules 50
//   npm run bench -- alerts --part throttle --throttle 30s/5m/4h   (Alertmanager's defaults)
//   npm run bench -- alerts --part capacity --deliveries 5000
//   npm run bench -- alerts --part capacity --spread-channels 0   (without the what-if)
import { parseArgs } from 'node:util';
import { measureCapacity } from './_alerts-capacity.ts';
import { measureLatency } from './_alerts-latency.ts';
import { measureThrottling } from './_alerts-throttle.ts';
import { selectParts } from './_parts.ts';

const PARTS = ['latency', 'throttle', 'capacity'] as const;

/** Runs the benchmark and prints its figures. */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      part: { type: 'string', multiple: true },
      failures: { type: 'string', default: '300' },
      rate: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '20' },
      seconds: { type: 'string', default: '60' },
      'per-minute': { type: 'string', default: '1000' },
      rules: { type: 'string', default: '50' },
      // Alertmanager's 30s/5m/4h divided by 30: a minute of load shows six messages per group.
      throttle: { type: 'string', default: '1s/10s/8m' },
      deliveries: { type: 'string', default: '5000' },
      'spread-channels': { type: 'string', default: '32' },
    },
  });
  const parts = selectParts(PARTS, values.part);
  const out = console.log;
  let ok = true;

  if (parts.includes('latency')) {
    const latency = await measureLatency({
      failures: Number(values.failures),
      perSecond: Number(values.rate),
      warmup: Number(values.warmup),
      out,
    });
    ok &&= latency.ok;
    out('');
  }
  if (parts.includes('throttle')) {
    const [groupWait, groupInterval, repeatInterval] = values.throttle.split('/');
    if (!groupWait || !groupInterval || !repeatInterval)
      throw new Error('--throttle is group_wait/group_interval/repeat_interval, e.g. 30s/5m/4h');
    const throttling = await measureThrottling({
      seconds: Number(values.seconds),
      perMinute: Number(values['per-minute']),
      rules: Number(values.rules),
      throttle: {
        group_wait: groupWait,
        group_interval: groupInterval,
        repeat_interval: repeatInterval,
      },
      out,
    });
    ok &&= throttling.ok;
    out('');
  }
  if (parts.includes('capacity')) {
    const capacity = await measureCapacity({
      deliveries: Number(values.deliveries),
      spreadChannels: Number(values['spread-channels']),
      out,
    });
    ok &&= capacity.ok;
  }
  if (!ok) {
    out('FAILED: some deliveries were missing, doubled or miscounted (see above)');
    process.exitCode = 1;
  }
}
