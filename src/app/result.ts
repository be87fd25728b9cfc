/**
 * What a use-case tells the person who asked. `message` is plain text (see domain/mrkdwn.ts): the
 * Slack layer escapes it. A refusal records nothing except, where the contract says so, an audit event.
 */
export type Outcome = { ok: true; message: string; requestId?: string } | { ok: false; message: string };

export const ok = (message: string, requestId?: string): Outcome => ({ ok: true, message, requestId });
export const refuse = (message: string): Outcome => ({ ok: false, message });
