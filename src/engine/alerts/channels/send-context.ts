// What every transport gets besides the message: the channel, the delivery, the secrets to keep
// out of every byte it sends and every text it returns, and the limits of the attempt.

import { channelSecrets, type AlertChannel } from '../../../core/alert-channels.ts';
import type { PostOptions } from './http-post.ts';
import type { ChannelTarget, Delivery } from './types.ts';

/** One attempt's surroundings. */
export interface SendContext {
  channel: ChannelTarget;
  delivery: Delivery;
  /** The channel's secrets and the transport's credentials, for the redactor. */
  secrets: string[];
  /** The caller's signal, the request timeout and the clock (signatures, Retry-After dates). */
  http: Pick<PostOptions, 'signal' | 'timeoutMs' | 'now'>;
}

/**
 * The values to mask for a channel: its own (the webhook's secret, the Slack URL) and the
 * transport's credentials (`extra`: the SMS token, the SMTP password).
 */
export function secretsOf(channel: ChannelTarget, extra: readonly string[]): string[] {
  // A stored config has the validated shape; a damaged one only yields fewer strings here.
  const own = channelSecrets({
    name: channel.name,
    type: channel.type,
    config: channel.config,
  } as AlertChannel);
  return [...own, ...extra].filter((s): s is string => typeof s === 'string' && s !== '');
}
