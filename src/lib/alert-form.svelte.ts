// The submit handling the alerts forms share: a 422's problems shown at their fields, any other
// failure in words.
import { describeError } from '#lib/api.ts';
import { problemsOf } from '#lib/alerts.ts';
import { FormAction } from '#lib/form.svelte.ts';
import type { FieldProblem } from '#lib/types.ts';

/** An alerts form's submission state and the API's problems with its fields. */
export class AlertFormAction extends FormAction {
  problems = $state.raw<FieldProblem[]>([]);

  /**
   * A submit handler running `action`: a 422 with field problems says `marked`, any other
   * failure is described as failing to do `doing()`.
   * @example const submit = form.save(() => api(...), { marked: 'Not saved: see the fields marked.', doing: () => 'save the rule' });
   */
  save(
    action: () => Promise<unknown>,
    options: { marked: string; doing: () => string },
  ): (event: SubmitEvent) => Promise<void> {
    return this.handle(
      async () => {
        this.problems = [];
        await action();
      },
      (error) => {
        const found = problemsOf(error);
        this.problems = found ?? [];
        if (found && found.length > 0) return options.marked;
        return describeError(error, options.doing());
      },
    );
  }
}
