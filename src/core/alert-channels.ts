// Alert channels as the API receives them (`POST /api/alerts/channels`). The type decides the
// config's shape; a config is only checked once its type is known, so an unknown type reports
// one problem instead of a list of config fields that mean nothing for it.

import { z } from 'zod';
import { CHANNEL_TYPES, type ChannelType } from './alert-names.ts';
import { checkFields, isRecord, type FieldProblem } from './field-problems.ts';
import { err, ok, type Result } from './result.ts';

export { CHANNEL_TYPES, type ChannelType } from './alert-names.ts';

/** Most addresses one email channel sends to. */
export const MAX_EMAIL_RECIPIENTS = 20;
/** Shortest webhook signing secret: 16 characters, as guessing it must stay out of reach. */
export const MIN_WEBHOOK_SECRET_LENGTH = 16;

/** A validated channel: its name, type and the config of that type. */
export type AlertChannel = { name: string } & (
  | { type: 'email'; config: { to: string[] } }
  | { type: 'webhook'; config: { url: string; secret: string | null } }
  | { type: 'slack'; config: { webhook_url: string } }
  | { type: 'sms'; config: { to: string; from: string | null } }
);

// A practical address check, not RFC 5322: no spaces or brackets, one @, a host of DNS labels.
// Single-label hosts (`ops@localhost`, the `a@x` of the API's example) are accepted for
// self-hosted mail; the SMTP server has the last word on deliverability.
const EMAIL =
  /^[^\s@"(),:;<>[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const E164 = /^\+[1-9]\d{1,14}$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function parsedUrl(text: string): URL | undefined {
  return URL.canParse(text) ? new URL(text) : undefined;
}

const httpUrl = z.string({ error: 'must be an http(s) URL' }).refine((text) => {
  const url = parsedUrl(text);
  return url !== undefined && (url.protocol === 'https:' || url.protocol === 'http:');
}, 'must be an http(s) URL');

// Slack's own webhook URLs are https, and the URL is itself the credential, so plain http is
// refused except on loopback: tests and self-hosted relays on the same machine.
const slackUrl = z.string({ error: 'must be an https URL' }).refine((text) => {
  const url = parsedUrl(text);
  if (url?.protocol === 'https:') return true;
  return url?.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}, 'must be an https URL (http only for 127.0.0.1 or localhost)');

const phone = z
  .string({ error: 'must be a phone number in E.164 form, such as +33612345678' })
  .regex(E164, 'must be a phone number in E.164 form, such as +33612345678');

const configShapes = {
  email: {
    to: z
      .array(
        z
          .string({ error: 'must be an email address' })
          .trim()
          .max(254, 'must be at most 254 characters')
          .regex(EMAIL, 'must be an email address'),
        { error: 'must be a list of email addresses' },
      )
      .min(1, 'must name at least one address')
      .max(MAX_EMAIL_RECIPIENTS, `must name at most ${MAX_EMAIL_RECIPIENTS} addresses`),
  },
  webhook: {
    url: httpUrl,
    secret: z
      .string({ error: 'must be a string' })
      .min(MIN_WEBHOOK_SECRET_LENGTH, `must be at least ${MIN_WEBHOOK_SECRET_LENGTH} characters`)
      .max(512, 'must be at most 512 characters')
      .nullable()
      .default(null),
  },
  slack: { webhook_url: slackUrl },
  sms: { to: phone, from: phone.nullable().default(null) },
} satisfies Record<ChannelType, Record<string, z.ZodType>>;

const channelShape = {
  name: z
    .string({ error: 'must be a string' })
    .trim()
    .min(1, 'must not be empty')
    .max(200, 'must be at most 200 characters'),
  type: z.enum(CHANNEL_TYPES, { error: `must be one of ${CHANNEL_TYPES.join(', ')}` }),
  config: z.unknown(),
};

/**
 * Checks the body of `POST`/`PUT /api/alerts/channels`: a name, a type and its config. email
 * `{to: [1..20 addresses]}` (duplicates dropped, case-insensitively); webhook `{url: http(s),
 * secret?: ≥ 16 characters}`; slack `{webhook_url: https}`, where http is accepted only for
 * 127.0.0.1, localhost and [::1] (tests and a relay on the same host); sms `{to, from?}` in E.164.
 * Optional fields come back as null. Every problem is reported at once (`config.to[1]`).
 *
 * @example
 * validateChannel({ name: 'On call', type: 'sms', config: { to: '+33612345678' } });
 */
export function validateChannel(input: unknown): Result<AlertChannel, FieldProblem[]> {
  const { values, problems } = checkFields(input, { shape: channelShape, at: '' });
  if (!values) return err(problems);
  const type = values.type;
  if (type === undefined) return err(problems);
  if (!isRecord(values.config)) {
    problems.push({ path: 'config', message: 'must be an object' });
    return err(problems);
  }
  const config = checkFields(values.config, { shape: configShapes[type], at: 'config' });
  problems.push(...config.problems);
  if (problems.length > 0) return err(problems);
  const channel = { name: values.name!, type, config: config.values } as AlertChannel;
  if (channel.type === 'email') channel.config.to = distinctAddresses(channel.config.to);
  return ok(channel);
}

function distinctAddresses(addresses: string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((address) => {
    const key = address.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The values of a channel that must never appear in an alert or a log: the webhook's signing
 * secret and the Slack URL (its path is the credential). Pass them to the redactor.
 */
export function channelSecrets(channel: AlertChannel): string[] {
  if (channel.type === 'webhook') return channel.config.secret ? [channel.config.secret] : [];
  if (channel.type === 'slack') return [channel.config.webhook_url];
  return [];
}
