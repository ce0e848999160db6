// A channel's credentials (a webhook's signing secret, a Slack URL whose path is the credential)
// never leave the API whole: answers show a masked form that still tells two of them apart, and
// a client that sends a masked form back unchanged (a form that was read, edited and saved)
// keeps the stored value instead of overwriting it with the mask.

import type { AlertChannel } from './alert-channels.ts';
import { isRecord, type FieldProblem } from './field-problems.ts';

/** What a masked value starts with (webhook secrets) or holds after the host (Slack URLs). */
export const MASK = '••••';
const ELLIPSIS = '…';

/** A webhook secret as answers show it: `••••` and its last four characters. */
export function maskSecret(secret: string): string {
  return `${MASK}${secret.slice(-4)}`;
}

/** A Slack webhook URL as answers show it: scheme and host, `/…` and its last four characters. */
export function maskUrl(url: string): string {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  const origin = parsed ? `${parsed.protocol}//${parsed.host}` : '';
  return `${origin}/${ELLIPSIS}${url.slice(-4)}`;
}

/** A channel's config with its credentials masked, and whether it holds one. */
export function maskChannelConfig(channel: Pick<AlertChannel, 'type' | 'config'>): {
  config: Record<string, unknown>;
  hasSecret: boolean;
} {
  const c = channel as AlertChannel;
  if (c.type === 'webhook') {
    const secret = c.config.secret;
    return {
      config: { ...c.config, secret: secret ? maskSecret(secret) : null },
      hasSecret: Boolean(secret),
    };
  }
  if (c.type === 'slack') {
    return { config: { ...c.config, webhook_url: maskUrl(c.config.webhook_url) }, hasSecret: true };
  }
  return { config: { ...c.config }, hasSecret: false };
}

// The credential field of each type that has one, its mask and how to recognise a masked value.
const CREDENTIALS = {
  webhook: { key: 'secret', mask: maskSecret, looksMasked: (v: string) => v.startsWith(MASK) },
  slack: {
    key: 'webhook_url',
    mask: maskUrl,
    looksMasked: (v: string) => v.includes(`/${ELLIPSIS}`),
  },
} as const;

/**
 * The body of a channel write with masked credentials replaced by the stored ones: a masked
 * value equal to the mask of `stored`'s credential (same type) stands for it. A value that looks
 * masked but matches nothing stored is a problem (it would store the mask itself). The input is
 * not changed; anything that is not a channel body comes back as it is, for the validator.
 */
export function restoreMaskedSecrets(
  input: unknown,
  options: { stored: Pick<AlertChannel, 'type' | 'config'> | undefined },
): { value: unknown; problems: FieldProblem[] } {
  if (!isRecord(input) || !isRecord(input.config) || typeof input.type !== 'string') {
    return { value: input, problems: [] };
  }
  const credential = CREDENTIALS[input.type as keyof typeof CREDENTIALS] as
    (typeof CREDENTIALS)[keyof typeof CREDENTIALS] | undefined;
  const sent = credential ? input.config[credential.key] : undefined;
  if (!credential || typeof sent !== 'string' || !credential.looksMasked(sent)) {
    return { value: input, problems: [] };
  }
  const { stored } = options;
  const kept =
    stored?.type === input.type
      ? (stored.config as Record<string, unknown>)[credential.key]
      : undefined;
  if (typeof kept === 'string' && credential.mask(kept) === sent) {
    return {
      value: { ...input, config: { ...input.config, [credential.key]: kept } },
      problems: [],
    };
  }
  return {
    value: input,
    problems: [
      {
        path: `config.${credential.key}`,
        message: 'is a masked value that matches no stored one; send the whole value',
      },
    ],
  };
}
