import type pg from 'pg';
import { findWebhookTarget, type WebhookTarget } from '../db/queries/intake.ts';
import type { Listener } from '../engine/listener.ts';

/** Notification channel announcing a workflow whose published version changed (payload: token). */
export const WORKFLOWS_CHANNEL = 'meshhook_workflows';

const TTL_MS = 5_000;

/**
 * Webhook token → the version it runs, cached per process so intake is one statement, not two.
 * Publishing drops the entry at once in the publishing process and, through NOTIFY, in every
 * other; the short expiry bounds what a lost notification could leave stale.
 */
export class WebhookTargets {
  readonly #pool: pg.Pool;
  readonly #entries = new Map<string, { target: WebhookTarget; expires: number }>();

  constructor(pool: pg.Pool, listener: Listener) {
    this.#pool = pool;
    listener.on(WORKFLOWS_CHANNEL, (payload) => {
      for (const token of payload.split(',')) this.#entries.delete(token);
    });
    listener.onConnect(() => this.#entries.clear());
  }

  /** The target of a token, or undefined when no published workflow has it. */
  async get(token: string): Promise<WebhookTarget | undefined> {
    const now = Date.now();
    const hit = this.#entries.get(token);
    if (hit && hit.expires > now) return hit.target;
    const target = await findWebhookTarget(this.#pool, token);
    if (target) {
      if (this.#entries.size > 10_000) this.#entries.clear();
      this.#entries.set(token, { target, expires: now + TTL_MS });
    } else {
      this.#entries.delete(token);
    }
    return target;
  }

  /** Forgets a token here; other processes hear of it through the notifier. */
  forget(token: string): void {
    this.#entries.delete(token);
  }
}
