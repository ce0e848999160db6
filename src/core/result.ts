/** An expected outcome: a value, or an error the caller is meant to handle. */
export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E };

/** Wraps a value as a successful Result. */
export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });

/** Wraps an error as a failed Result. */
export const err = <E>(error: E): { ok: false; error: E } => ({ ok: false, error });
