import type { View } from "@slack/types";
import type { Resource } from "../config/policy.js";
import { formatDuration } from "../domain/duration.js";
import {
  BLOCK_DURATION,
  BLOCK_REASON,
  BLOCK_RESOURCE,
  INPUT_DURATION,
  INPUT_REASON,
  INPUT_RESOURCE,
  VIEW_REQUEST,
} from "./wire.js";

/** The request form opened by `/jit request` without arguments. */
export function requestModal(resources: Resource[]): View {
  return {
    type: "modal",
    callback_id: VIEW_REQUEST,
    title: { type: "plain_text", text: "Request access" },
    submit: { type: "plain_text", text: "Request" },
    close: { type: "plain_text", text: "Cancel" },
    blocks: [
      {
        type: "input",
        block_id: BLOCK_RESOURCE,
        label: { type: "plain_text", text: "Resource" },
        element: {
          type: "static_select",
          action_id: INPUT_RESOURCE,
          placeholder: { type: "plain_text", text: "Choose a resource" },
          options: resources.slice(0, 100).map((r) => ({
            text: {
              type: "plain_text",
              text: `${r.name} (up to ${formatDuration(r.maxDuration)})`.slice(0, 75),
            },
            value: r.id,
          })),
        },
      },
      {
        type: "input",
        block_id: BLOCK_DURATION,
        label: { type: "plain_text", text: "Duration" },
        hint: { type: "plain_text", text: "Like 30m, 2h, 1h30m or 1d" },
        element: {
          type: "plain_text_input",
          action_id: INPUT_DURATION,
          placeholder: { type: "plain_text", text: "1h" },
        },
      },
      {
        type: "input",
        block_id: BLOCK_REASON,
        label: { type: "plain_text", text: "Reason" },
        element: { type: "plain_text_input", action_id: INPUT_REASON, multiline: true, max_length: 1000 },
      },
    ],
  };
}

type StateValues = Record<
  string,
  Record<string, { value?: string | null; selected_option?: { value: string } | null }>
>;

/** Reads the submitted form; field-level problems are reported by the handler. */
export function readRequestModal(values: StateValues) {
  return {
    resource: values[BLOCK_RESOURCE]?.[INPUT_RESOURCE]?.selected_option?.value ?? "",
    duration: values[BLOCK_DURATION]?.[INPUT_DURATION]?.value?.trim() ?? "",
    reason: values[BLOCK_REASON]?.[INPUT_REASON]?.value?.trim() ?? "",
  };
}
