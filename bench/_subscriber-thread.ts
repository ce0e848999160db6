// A thread of SSE subscribers for the log-stream benchmark. Each subscriber is one raw HTTP
// request; frames are counted by scanning the bytes for `event:` and `id:` lines, never by
// parsing the JSON, so that the client costs as little as possible next to the server measured.
import http from 'node:http';
import { parentPort } from 'node:worker_threads';
import { clock } from './_process-stats.ts';

/** What a subscriber thread is asked to do. */
export type ThreadCommand =
  | {
      type: 'open';
      port: number;
      subscribers: Array<{ path: string; key: string }>;
      concurrency: number;
    }
  | { type: 'total' }
  | { type: 'collect' }
  | { type: 'close' };

/** A command as sent; every answer echoes its `seq`. */
export type ThreadRequest = ThreadCommand & { seq: number };

/** Counters of each subscriber, in the order they were opened, since the thread started. */
export interface ThreadCollect {
  count: Float64Array;
  sum: Float64Array;
  outOfOrder: Float64Array;
  lagged: Float64Array;
  reconnects: Float64Array;
  errors: string[];
  /** Every delivery since the previous collect: the line's id and when its frame arrived. */
  ids: Float64Array;
  times: Float64Array;
  /** Event loop utilisation of this thread since the previous collect, 0–1. */
  utilisation: number;
}

const NONE = 0;
const LOG = 1;
const LAGGED = 2;
const END = 3;
const ERROR = 4;
const CARRY = 64;
// The API's `retry:`; a reconnect after `lagged` or a dropped connection waits as a browser would.
const RETRY_MS = 1000;
const MAX_RECONNECTS = 20;
const OPEN_TIMEOUT_MS = 60_000;

interface Subscriber {
  path: string;
  key: string;
  lastId: number;
  event: number;
  pendingId: number;
  carry: Buffer | undefined;
  request: http.ClientRequest | undefined;
  done: boolean;
  /** Saw `event: end` or `event: error`: the server closes and the client must not return. */
  final: boolean;
  errorText: string;
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const subscribers: Subscriber[] = [];
let port = 0;
let closing = false;
let count = new Float64Array(0);
let sum = new Float64Array(0);
let outOfOrder = new Float64Array(0);
let lagged = new Float64Array(0);
let reconnects = new Float64Array(0);
let ids = new Float64Array(1 << 16);
let times = new Float64Array(1 << 16);
let recorded = 0;
let total = 0;
let lastUtilisation = performance.eventLoopUtilization();

function record(index: number, id: number, at: number): void {
  const sub = subscribers[index]!;
  count[index]!++;
  sum[index]! += id;
  total++;
  if (id <= sub.lastId) outOfOrder[index]!++;
  else sub.lastId = id;
  if (recorded === ids.length) {
    const grownIds = new Float64Array(ids.length * 2);
    grownIds.set(ids);
    ids = grownIds;
    const grownTimes = new Float64Array(times.length * 2);
    grownTimes.set(times);
    times = grownTimes;
  }
  ids[recorded] = id;
  times[recorded++] = at;
}

/** Handles one line (without its newline) of a subscriber's stream. */
function line(index: number, buf: Buffer, start: number, end: number, at: number): void {
  const sub = subscribers[index]!;
  if (start === end) {
    // A blank line ends the frame.
    if (sub.event === LOG && sub.pendingId > 0) record(index, sub.pendingId, at);
    sub.event = NONE;
    sub.pendingId = 0;
    return;
  }
  const first = buf[start];
  if (first === 0x69 && buf[start + 1] === 0x64 && buf[start + 2] === 0x3a) {
    // id: <digits>
    let id = 0;
    for (let i = start + 3; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x30 && c <= 0x39) id = id * 10 + (c - 0x30);
    }
    sub.pendingId = id;
  } else if (first === 0x65 && buf[start + 1] === 0x76 && end - start >= 9) {
    // event: <name>; told apart by their first two letters
    const a = buf[start + 7];
    const b = buf[start + 8];
    sub.event =
      a === 0x6c ? (b === 0x6f ? LOG : LAGGED) : a === 0x65 ? (b === 0x6e ? END : ERROR) : NONE;
    if (sub.event === LAGGED) lagged[index]!++;
    if (sub.event === END || sub.event === ERROR) sub.final = true;
  } else if (first === 0x64 && sub.event === ERROR) {
    sub.errorText = buf.toString('utf8', start, end);
  }
}

function scan(index: number, chunk: Buffer, at: number): void {
  const sub = subscribers[index]!;
  let pos = 0;
  if (sub.carry) {
    const nl = chunk.indexOf(10);
    if (nl === -1) {
      if (sub.carry.length < CARRY)
        sub.carry = Buffer.concat([sub.carry, chunk.subarray(0, CARRY - sub.carry.length)]);
      return;
    }
    const joined = Buffer.concat([sub.carry, chunk.subarray(0, Math.min(nl, CARRY))]);
    sub.carry = undefined;
    line(index, joined, 0, joined.length, at);
    pos = nl + 1;
  }
  while (pos < chunk.length) {
    const nl = chunk.indexOf(10, pos);
    if (nl === -1) {
      sub.carry = Buffer.from(chunk.subarray(pos, Math.min(chunk.length, pos + CARRY)));
      return;
    }
    line(index, chunk, pos, nl, at);
    pos = nl + 1;
  }
}

/**
 * Opens (or reopens after `lagged`) one subscriber; resolves on its first bytes, or with why it
 * failed and whether the server refused it (an HTTP error, after which EventSource gives up).
 */
function connect(index: number): Promise<{ problem: string; refused: boolean } | undefined> {
  const sub = subscribers[index]!;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (failure?: { problem: string; refused: boolean }) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(failure);
      }
    };
    const timer = setTimeout(() => {
      settle({ problem: `no answer within ${OPEN_TIMEOUT_MS / 1000} s`, refused: false });
      request.destroy();
    }, OPEN_TIMEOUT_MS);
    const headers: Record<string, string> = {
      authorization: `Bearer ${sub.key}`,
      accept: 'text/event-stream',
    };
    if (sub.lastId > 0) headers['last-event-id'] = String(sub.lastId);
    const request = http.request({ host: '127.0.0.1', port, path: sub.path, agent, headers });
    sub.request = request;
    request.on('response', (response) => {
      if (response.statusCode !== 200) {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (text: string) => (body += text.slice(0, 300)));
        response.on('end', () =>
          settle({ problem: `${response.statusCode} ${body.slice(0, 300)}`, refused: true }),
        );
        return;
      }
      response.on('data', (chunk: Buffer) => {
        settle();
        scan(index, chunk, clock());
      });
      response.on('close', () => ended(index, request));
    });
    request.on('error', (error) => {
      settle({ problem: error.message, refused: false });
      ended(index, request);
    });
    request.end();
  });
}

/** A stream closed: reconnect after `lagged` or a drop, as EventSource would; not after errors. */
function ended(index: number, request: http.ClientRequest): void {
  const sub = subscribers[index]!;
  if (closing || sub.done || sub.request !== request) return;
  sub.request = undefined;
  sub.carry = undefined;
  if (sub.final) {
    sub.done = true;
    return;
  }
  if (reconnects[index]! >= MAX_RECONNECTS) {
    sub.done = true;
    sub.errorText ||= 'too many reconnects';
    return;
  }
  reconnects[index]!++;
  sub.event = NONE;
  sub.pendingId = 0;
  setTimeout(() => {
    if (closing || sub.done) return;
    void connect(index).then((failure) => {
      // Refused on reconnecting (say the key was revoked): the stream is over. A network error
      // has already scheduled the next attempt.
      if (failure?.refused) {
        sub.done = true;
        sub.errorText = failure.problem;
      }
    });
  }, RETRY_MS);
}

async function open(request: Extract<ThreadCommand, { type: 'open' }>): Promise<string[]> {
  port = request.port;
  const first = subscribers.length;
  for (const s of request.subscribers) {
    subscribers.push({
      ...s,
      lastId: 0,
      event: NONE,
      pendingId: 0,
      carry: undefined,
      request: undefined,
      done: false,
      final: false,
      errorText: '',
    });
  }
  const grow = (a: Float64Array) => {
    const out = new Float64Array(subscribers.length);
    out.set(a);
    return out;
  };
  count = grow(count);
  sum = grow(sum);
  outOfOrder = grow(outOfOrder);
  lagged = grow(lagged);
  reconnects = grow(reconnects);
  const problems: string[] = [];
  let next = first;
  await Promise.all(
    Array.from({ length: request.concurrency }, async () => {
      while (next < subscribers.length) {
        const index = next++;
        const failure = await connect(index);
        if (failure) {
          subscribers[index]!.done = true;
          subscribers[index]!.errorText = failure.problem;
          problems.push(`${subscribers[index]!.path}: ${failure.problem}`);
        }
      }
    }),
  );
  return problems;
}

function collect(): ThreadCollect {
  const utilisation = performance.eventLoopUtilization(lastUtilisation);
  lastUtilisation = performance.eventLoopUtilization();
  const out: ThreadCollect = {
    count: count.slice(),
    sum: sum.slice(),
    outOfOrder: outOfOrder.slice(),
    lagged: lagged.slice(),
    reconnects: reconnects.slice(),
    errors: subscribers.map((s) => s.errorText),
    ids: ids.slice(0, recorded),
    times: times.slice(0, recorded),
    utilisation: utilisation.utilization,
  };
  recorded = 0;
  return out;
}

parentPort!.on('message', (message: ThreadRequest) => {
  const reply = (body: object, transfer: ArrayBuffer[] = []) =>
    parentPort!.postMessage({ seq: message.seq, ...body }, transfer);
  switch (message.type) {
    case 'open':
      void open(message).then((problems) => reply({ problems }));
      break;
    case 'total':
      reply({ total, open: subscribers.filter((s) => s.request && !s.done).length });
      break;
    case 'collect': {
      const out = collect();
      reply(out, [out.ids.buffer as ArrayBuffer, out.times.buffer as ArrayBuffer]);
      break;
    }
    case 'close':
      closing = true;
      for (const sub of subscribers) sub.request?.destroy();
      reply({});
      break;
  }
});
