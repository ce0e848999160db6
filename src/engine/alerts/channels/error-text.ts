// Failure texts end up in the alert log, the process log and the API, where anyone who can read
// a project's alerts sees them. So every one is cut to a line and scrubbed of the channel's
// secrets here, whichever transport produced it.

import { createRedactor } from '../../../core/redact.ts';
import { truncate } from '../../../core/safe-value.ts';

/** Longest failure text, in characters. */
export const MAX_ERROR_LENGTH = 300;

// A URL keeps only its scheme and host: a Slack hook's path is its credential, and other
// receivers put tokens in paths and queries as well.
const URL_TAIL = /\b(https?:\/\/[^\s/?#@]*@?[^\s/?#]*)[/?#][^\s"'<>]*/gi;

/**
 * Builds the cleaner of one channel's failure texts: URLs cut to their origin, the secrets
 * masked (and the built-in rules: bearer tokens, URL passwords…), one line, at most 300 characters.
 */
export function createErrorText(secrets: readonly string[]): (text: string) => string {
  const redactor = createRedactor({ secrets });
  return (text) => {
    // Cut before masking, so a hook's origin stays readable instead of one [REDACTED].
    const masked = redactor.text(text.replace(URL_TAIL, '$1'));
    return truncate(masked.replace(/\s+/g, ' ').trim(), MAX_ERROR_LENGTH);
  };
}
