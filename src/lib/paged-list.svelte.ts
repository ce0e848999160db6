// A refetched list that "Show more" extends, for the errors page and the alert log: a refetch
// asks for as many rows as are shown, so it does not undo "Show more", and the answer of the
// latest request wins whatever order the answers come back in.
import type { Page } from '#lib/types.ts';

/** The rows shown, the cursor of the next page, and the state of "Show more". */
export class PagedList<T extends { id: string }> {
  items = $state.raw<T[] | undefined>();
  nextCursor = $state<string | null | undefined>();
  moreError = $state<unknown>();
  loadingMore = $state(false);
  /** How many rows a refetch asks for: a page, and one more per "Show more". */
  wanted: number;
  readonly #pageSize: number;
  readonly #maxLimit: number;
  #asked = 0;

  /** `maxLimit` is the most rows the API gives in one answer: a refetch keeps at most these. */
  constructor(options: { pageSize: number; maxLimit: number }) {
    this.#pageSize = options.pageSize;
    this.#maxLimit = options.maxLimit;
    this.wanted = options.pageSize;
  }

  /** Starts a refetch; the function it returns says whether it is still the latest. */
  ask(): () => boolean {
    const mine = ++this.#asked;
    return () => mine === this.#asked;
  }

  /** Shows a refetch's answer. */
  take(page: Page<T>): void {
    this.items = page.items;
    this.nextCursor = page.next_cursor;
  }

  /** Back to the first page, for another view. */
  reset(): void {
    this.wanted = this.#pageSize;
  }

  /** Appends the next page, fetched by `fetchPage`, unless a refetch has been asked meanwhile. */
  async showMore(fetchPage: (limit: number, cursor: string) => Promise<Page<T>>): Promise<void> {
    const { nextCursor, items } = this;
    if (!nextCursor || !items) return;
    const mine = this.#asked;
    this.loadingMore = true;
    this.moreError = undefined;
    try {
      const next = await fetchPage(this.#pageSize, nextCursor);
      if (mine !== this.#asked) return;
      // A lookup built and dropped here, never shown: nothing reactive about it.
      // eslint-disable-next-line svelte/prefer-svelte-reactivity
      const known = new Set(items.map((i) => i.id));
      const shown = [...items, ...next.items.filter((i) => !known.has(i.id))];
      this.items = shown;
      this.nextCursor = next.next_cursor;
      this.wanted = Math.min(shown.length, this.#maxLimit);
    } catch (e) {
      this.moreError = e;
    } finally {
      this.loadingMore = false;
    }
  }
}
