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
/** Approve / Deny on an extension's card; the value is the extension id (R-7KQ2.1). */
export const ACTION_EXTENSION_APPROVE = "jit_extension_approve";
export const ACTION_EXTENSION_DENY = "jit_extension_deny";
/** The Extend button (expiry reminder, App Home); the value is the request id. */
export const ACTION_EXTEND_OPEN = "jit_extend_open";
/** The extension form; its private_metadata is the request id. */
export const VIEW_EXTEND = "jit_extend_modal";
/** Acknowledge / Flag on a break-glass review card; the value is the request id. */
export const ACTION_BREAKGLASS_ACK = "jit_breakglass_ack";
export const ACTION_BREAKGLASS_FLAG = "jit_breakglass_flag";
/** App Home buttons; each value is a request id (an extension id for the extension ones). */
export const ACTION_HOME_REQUEST = "jit_home_request";
export const ACTION_HOME_REVOKE = "jit_home_revoke";
export const ACTION_HOME_CANCEL = "jit_home_cancel";
export const ACTION_HOME_APPROVE = "jit_home_approve";
export const ACTION_HOME_DENY = "jit_home_deny";
export const ACTION_HOME_EXTENSION_APPROVE = "jit_home_extension_approve";
export const ACTION_HOME_EXTENSION_DENY = "jit_home_extension_deny";
