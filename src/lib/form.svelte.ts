// The submit handling every form shares: busy while its action runs, a problem in words when it
// failed, never a stack trace.

/** A form's submission state. */
export class FormAction {
  busy = $state(false);
  problem = $state<string | undefined>();

  /**
   * A submit handler running `action`; `explain` turns a failure into the sentence shown
   * (undefined to show none, when the page handles it otherwise).
   * @example const submit = form.handle(() => api(...), (error) => describeError(error, 'save'));
   */
  handle(
    action: () => Promise<unknown>,
    explain: (error: unknown) => string | undefined,
  ): (event: SubmitEvent) => Promise<void> {
    return async (event) => {
      event.preventDefault();
      this.busy = true;
      this.problem = undefined;
      try {
        await action();
      } catch (error) {
        this.problem = explain(error);
      } finally {
        this.busy = false;
      }
    };
  }
}
