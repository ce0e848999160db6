// The contract between the alert dispatcher and the transports: one delivery to one channel,
// answered with whether it went out and, if not, whether trying again can help.

/** A channel as stored: its type decides the config's shape (see src/core/alert-channels.ts). */
export interface ChannelTarget {
  id: string;
  type: 'email' | 'webhook' | 'slack' | 'sms';
  name: string;
  config: Record<string, unknown>;
}

/**
 * One delivery: its id is stable across retries (receivers dedupe on it). `alert` is the stored
 * alert JSON: {type, project_id, workflow:{id,slug}|null, run:{id,url}|null, node_id,
 * error:{type,message}|null, attempts, covers, rule:{id,name}, criticality, template, at} (for
 * thresholds also {metric, value, threshold, state}); message-input.ts adapts it to the core
 * message functions' input.
 */
export interface Delivery {
  id: string;
  attempt: number;
  alert: Record<string, unknown>;
}

/**
 * How one attempt ended. A failure is permanent when repeating the same request cannot succeed
 * (a revoked hook, a refused recipient); `retryAfterMs` is the receiver's own wish (Retry-After).
 * `error` is short and never holds a secret.
 */
export type SendResult =
  | { ok: true; statusCode?: number }
  | { ok: false; permanent: boolean; statusCode?: number; error: string; retryAfterMs?: number };

/** Sends deliveries, whatever the channel's type. */
export interface ChannelSenders {
  send(channel: ChannelTarget, delivery: Delivery, signal: AbortSignal): Promise<SendResult>;
}
