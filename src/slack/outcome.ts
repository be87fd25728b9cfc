import type { Outcome } from "../app/result.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";

/** A use-case's answer as mrkdwn: its plain text escaped, refusals marked. */
export const outcomeText = (outcome: Outcome) =>
  escapeMrkdwn(outcome.ok ? outcome.message : `:warning: ${outcome.message}`);
