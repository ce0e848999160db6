// What the alerts list pages (channels, rules, silences) share: their rows refetched on a timer,
// the time of the latest answer, and what became of a change such as a delete, in words.
import { api, describeError } from '#lib/api.ts';
import { startPoll, type Poll } from '#lib/alerts-poll.ts';
import type { Page } from '#lib/types.ts';

/**
 * A list page's rows, read from `path` (up to 500, the API's most in one answer) every `ms`
 * once started, and its notice and problem lines.
 * @example const list = new AlertsList<AlertRule>('/api/alerts/rules', 15_000); onMount(() => list.start()); onDestroy(() => list.stop());
 */
export class AlertsList<T> {
  items = $state.raw<T[] | undefined>();
  loadError = $state<unknown>();
  /** When the latest answer (or failure) came, for the rows' relative times. */
  now = $state(Date.now());
  notice = $state<string | undefined>();
  problem = $state<string | undefined>();
  readonly #path: string;
  readonly #ms: number;
  #poll: Poll | undefined;

  constructor(path: string, ms: number) {
    this.#path = path;
    this.#ms = ms;
  }

  /** Starts the refetching (from onMount; `stop` from onDestroy). */
  start(): void {
    this.#poll = startPoll(() => this.#load(), this.#ms);
  }

  /** Ends the refetching. */
  stop(): void {
    this.#poll?.stop();
  }

  /** Refetches at once. */
  refresh(): void {
    this.#poll?.now();
  }

  /**
   * Runs a change such as a delete: the notice says what `action` returns, the problem why it
   * failed (`failing` is what could not be done); then the rows are refetched.
   */
  async change(action: () => Promise<string>, failing: string): Promise<void> {
    this.problem = undefined;
    this.notice = undefined;
    try {
      this.notice = await action();
    } catch (e) {
      this.problem = describeError(e, failing);
    }
    this.refresh();
  }

  async #load(): Promise<void> {
    try {
      this.items = (await api<Page<T>>(this.#path, { query: { limit: 500 } })).items;
      this.loadError = undefined;
    } catch (e) {
      this.loadError = e;
    }
    this.now = Date.now();
  }
}
