import {
  describeError,
  type CapturedError,
  type ErrorContext,
} from '../../src/core/error-events.ts';

/** What a test error is: a message at an exact time, with whatever context it needs. */
export type FailureInput = Partial<ErrorContext> & { message: string; ts: number; stack?: string };

/**
 * One captured error of a project as the engine builds it (through describeError), at an exact
 * time; a worker's http_5xx unless told otherwise. Store it with recordErrors.
 * @example await recordErrors(pool, [failure(project, { message: 'boom', ts: Date.now() })]);
 */
export function failure(project: { id: string }, input: FailureInput): CapturedError {
  const { message, ts, stack, ...context } = input;
  return describeError(
    { message, ...(stack ? { stack } : {}) },
    { source: 'worker', errorType: 'http_5xx', projectId: project.id, ...context },
    { now: () => new Date(ts) },
  );
}

/** The same failure at each of the given times. */
export function repeated(
  project: { id: string },
  input: Omit<FailureInput, 'ts'>,
  times: number[],
): CapturedError[] {
  return times.map((ts) => failure(project, { ...input, ts }));
}
