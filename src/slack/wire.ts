/** Slack wire identifiers jit sends and listens for. Changing one breaks cards already posted. */
export const ACTION_APPROVE = "jit_approve";
export const ACTION_DENY = "jit_deny";
export const VIEW_REQUEST = "jit_request_modal";
export const BLOCK_RESOURCE = "resource";
export const BLOCK_DURATION = "duration";
export const BLOCK_REASON = "reason";
export const INPUT_RESOURCE = "resource_input";
export const INPUT_DURATION = "duration_input";
export const INPUT_REASON = "reason_input";
