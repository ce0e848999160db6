// The last step before anything leaves for Sentry: the SDK's beforeSend and beforeBreadcrumb
// (and beforeSendSpan, when tracing is on) pass what they get through here. MeshHook's own
// events arrive redacted already (describeError masked them with the project's secrets); what
// this adds is for what the SDK collects on its own (console breadcrumbs, runtime contexts, and
// whatever a future integration attaches): the same rules as every log line, plus the few that
// only matter once data leaves the machine (people's addresses, request cookies and bodies,
// local variables). It takes plain objects and imports no SDK, so the browser can use it too.

import { createRedactor, REDACTED, isSensitiveKey, type RedactOptions } from './redact.ts';

/**
 * The key names Sentry's own data scrubber treats as sensitive. redact.ts's built-in key rule
 * covers every one of them (its tests check it), so none is added as an extra key.
 */
export const SENTRY_SENSITIVE_KEYS = [
  'password',
  'secret',
  'passwd',
  'api_key',
  'apikey',
  'auth',
  'credentials',
  'mysql_pwd',
  'privatekey',
  'private_key',
  'token',
  'bearer',
] as const;

/**
 * Keys masked in Sentry events beyond redact.ts's rules: the ones holding a person's network
 * address, which may be stored by MeshHook but does not go to a third party. To mask more in
 * Sentry events only, add a pattern here; to mask something everywhere (logs, stored errors,
 * alerts), extend redact.ts instead.
 */
export const SENTRY_EXTRA_KEYS: readonly RegExp[] = [
  /^(?:ip|ip[_-]?address|remote[_-]?addr|client[_-]?ip)$/i,
  /^(?:x-forwarded-for|x-real-ip|forwarded|cf-connecting-ip|true-client-ip|x-client-ip)$/i,
];

// Request headers that are dropped whole rather than masked: credentials, and addresses.
const DROPPED_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-forwarded-for',
  'x-real-ip',
  'forwarded',
  'cf-connecting-ip',
  'true-client-ip',
  'x-client-ip',
]);

// A webhook URL's last segment is its credential (`/hooks/<token>`); the route is what helps.
const WEBHOOK_PATH = /(\/hooks\/)[^/?#\s"'<>]+/g;
// `name=value` in free text, as in a libpq connection string (`password=… host=…`) or a
// command line (`--token=…`); the value is masked when the name is sensitive.
const KEY_VALUE = /(?<![\w.])([a-z][\w.-]{0,63})=([^\s&;,"'<>]+)/gi;

/** What the scrubber masks beyond the built-in rules. */
export interface SentryScrubOptions {
  /** Literal secret values masked wherever they appear (as redact.ts's `secrets`). */
  secrets?: readonly string[];
  /** Key patterns masked beyond redact.ts's and SENTRY_EXTRA_KEYS. */
  extraKeys?: readonly RegExp[];
}

/** A scrubber compiled once: one function per kind of payload the SDK hands over. */
export interface SentryScrubber {
  /** An error or message event (beforeSend). */
  event<T extends object>(event: T): T;
  /** A breadcrumb (beforeBreadcrumb). */
  breadcrumb<T extends object>(breadcrumb: T): T;
  /** A span (beforeSendSpan): its name, description and attributes. */
  span<T extends object>(span: T): T;
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Builds the scrubber: every string of an event is masked as redact.ts masks a log line (e-mail
 * addresses too), values under sensitive keys become `[REDACTED]`, so do webhook tokens in paths
 * and sensitive `name=value` pairs in text, request cookies, bodies, environment and credential or address headers are removed,
 * stack frames lose their local variables, and the user keeps only their id. Never mutates
 * its input.
 *
 * @example
 * const scrub = createSentryScrubber();
 * Sentry.init({ beforeSend: (event) => scrub.event(event), beforeBreadcrumb: (b) => scrub.breadcrumb(b) });
 */
export function createSentryScrubber(options: SentryScrubOptions = {}): SentryScrubber {
  const extraKeys = [...SENTRY_EXTRA_KEYS, ...(options.extraKeys ?? [])];
  const redactOptions: RedactOptions = {
    emails: true,
    extraKeys,
    ...(options.secrets ? { secrets: options.secrets } : {}),
  };
  const redactor = createRedactor(redactOptions);
  // The rules beyond redact.ts's, run over what it returns.
  const more = (s: string): string =>
    s
      .replace(WEBHOOK_PATH, `$1${REDACTED}`)
      .replace(KEY_VALUE, (match, name: string) =>
        isSensitiveKey(name, extraKeys) ? `${name}=${REDACTED}` : match,
      );
  const text = (value: string): string => more(redactor.text(value));
  const value = (input: unknown): unknown => mapStrings(redactor.value(input), more);
  const scrub = { text, value, extraKeys };
  return {
    event: <T extends object>(event: T): T => scrubEvent(event as Json, scrub) as T,
    breadcrumb: <T extends object>(breadcrumb: T): T =>
      scrubBreadcrumb(breadcrumb as Json, scrub) as T,
    span: <T extends object>(span: T): T => scrubSpan(span as Json, scrub) as T,
  };
}

/** Scrubs one event with the default rules; see createSentryScrubber. */
export function scrubSentryEvent<T extends object>(event: T, options?: SentryScrubOptions): T {
  return createSentryScrubber(options).event(event);
}

interface Scrub {
  text(value: string): string;
  value(input: unknown): unknown;
  extraKeys: readonly RegExp[];
}

function mapStrings(input: unknown, fn: (s: string) => string): unknown {
  if (typeof input === 'string') return fn(input);
  if (Array.isArray(input)) return input.map((item) => mapStrings(item, fn));
  if (isRecord(input)) {
    const out: Json = {};
    for (const [key, child] of Object.entries(input)) {
      Object.defineProperty(out, key, {
        value: mapStrings(child, fn),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return input;
}

function textOf(input: unknown, scrub: Scrub): unknown {
  return typeof input === 'string' ? scrub.text(input) : input;
}

function scrubEvent(event: Json, scrub: Scrub): Json {
  const out: Json = { ...event };
  if ('message' in out) out.message = scrub.value(out.message);
  if ('logentry' in out) out.logentry = scrub.value(out.logentry);
  if ('transaction' in out) out.transaction = textOf(out.transaction, scrub);
  if ('culprit' in out) out.culprit = textOf(out.culprit, scrub);
  if (isRecord(out.exception)) out.exception = scrubValues(out.exception, scrubException, scrub);
  if (isRecord(out.threads)) out.threads = scrubValues(out.threads, scrubThread, scrub);
  if (Array.isArray(out.breadcrumbs)) {
    out.breadcrumbs = out.breadcrumbs.map((b: unknown) =>
      isRecord(b) ? scrubBreadcrumb(b, scrub) : b,
    );
  }
  if ('request' in out)
    out.request = isRecord(out.request) ? scrubRequest(out.request, scrub) : undefined;
  if ('user' in out) out.user = userOf(out.user);
  if ('extra' in out) out.extra = scrub.value(out.extra);
  if ('tags' in out) out.tags = scrub.value(out.tags);
  if (isRecord(out.contexts)) {
    // The trace context holds only ids, which the card rule could in theory mistake for one.
    const { trace, ...rest } = out.contexts;
    out.contexts = { ...(scrub.value(rest) as Json), ...(trace === undefined ? {} : { trace }) };
  }
  return out;
}

function scrubValues(
  container: Json,
  each: (item: Json, scrub: Scrub) => Json,
  scrub: Scrub,
): Json {
  const values = container.values;
  if (!Array.isArray(values)) return { ...container };
  return {
    ...container,
    values: values.map((item: unknown) => (isRecord(item) ? each(item, scrub) : item)),
  };
}

function scrubException(exception: Json, scrub: Scrub): Json {
  const out: Json = { ...exception };
  if ('type' in out) out.type = textOf(out.type, scrub);
  if ('value' in out) out.value = textOf(out.value, scrub);
  if (isRecord(out.stacktrace)) out.stacktrace = scrubStacktrace(out.stacktrace, scrub);
  if (isRecord(out.mechanism) && 'data' in out.mechanism) {
    out.mechanism = { ...out.mechanism, data: scrub.value(out.mechanism.data) };
  }
  return out;
}

function scrubThread(thread: Json, scrub: Scrub): Json {
  const out: Json = { ...thread };
  if ('name' in out) out.name = textOf(out.name, scrub);
  if (isRecord(out.stacktrace)) out.stacktrace = scrubStacktrace(out.stacktrace, scrub);
  return out;
}

function scrubStacktrace(stacktrace: Json, scrub: Scrub): Json {
  const frames = stacktrace.frames;
  if (!Array.isArray(frames)) return { ...stacktrace };
  return {
    ...stacktrace,
    frames: frames.map((frame: unknown) => {
      if (!isRecord(frame)) return frame;
      // Local variables hold whatever the code held: payloads, secrets. They never leave.
      const { vars: _vars, ...out } = frame;
      if ('context_line' in out) out.context_line = textOf(out.context_line, scrub);
      for (const key of ['pre_context', 'post_context'] as const) {
        if (Array.isArray(out[key]))
          out[key] = out[key].map((line: unknown) => textOf(line, scrub));
      }
      return out;
    }),
  };
}

function scrubBreadcrumb(breadcrumb: Json, scrub: Scrub): Json {
  const out: Json = { ...breadcrumb };
  if ('message' in out) out.message = textOf(out.message, scrub);
  if ('data' in out) out.data = scrub.value(out.data);
  return out;
}

function scrubRequest(request: Json, scrub: Scrub): Json {
  // Bodies, cookies and the server environment (which holds the client's address) never leave.
  const { data: _data, cookies: _cookies, env: _env, headers, ...out } = request;
  if ('url' in out) out.url = textOf(out.url, scrub);
  if ('query_string' in out) {
    out.query_string =
      typeof out.query_string === 'string'
        ? scrub.text(out.query_string)
        : scrub.value(out.query_string);
  }
  if (isRecord(headers)) {
    const kept: Json = {};
    for (const [name, child] of Object.entries(headers)) {
      const lower = name.toLowerCase();
      if (DROPPED_HEADERS.has(lower) || isSensitiveKey(name, scrub.extraKeys)) continue;
      kept[name] = child;
    }
    out.headers = scrub.value(kept);
  }
  return out;
}

// Only the id says who acted; e-mail, name, IP address and geography stay out.
function userOf(user: unknown): Json | undefined {
  if (!isRecord(user)) return undefined;
  const id = user.id;
  return typeof id === 'string' || typeof id === 'number' ? { id: String(id) } : undefined;
}

function scrubSpan(span: Json, scrub: Scrub): Json {
  const out: Json = { ...span };
  if ('name' in out) out.name = textOf(out.name, scrub);
  if ('description' in out) out.description = textOf(out.description, scrub);
  if ('attributes' in out) out.attributes = scrub.value(out.attributes);
  if ('data' in out) out.data = scrub.value(out.data);
  return out;
}
