import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { type Harness, startHarness } from "../support/harness.js";
import { policyWith } from "../support/policies.js";
import { slashCommandFields } from "../support/slack-requests.js";
import { startSlackStandin } from "../support/slack-standin.js";
import { waitFor } from "../support/wait.js";

/**
 * Socket Mode: with SLACK_APP_TOKEN set, jit opens a WebSocket (URL from apps.connections.open) and
 * receives Slack's envelopes over it instead of HTTP. This stands in for Slack's socket endpoint.
 */
let h: Harness;
let server: WebSocketServer;
const received: Record<string, unknown>[] = [];
let socket: WebSocket | undefined;

beforeAll(async () => {
  server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  server.on("connection", (ws) => {
    socket = ws;
    ws.on("message", (data) => received.push(JSON.parse(String(data)) as Record<string, unknown>));
    ws.send(JSON.stringify({ type: "hello", num_connections: 1, connection_info: { app_id: "A0JIT" } }));
  });
  const standin = await startSlackStandin();
  const { port } = server.address() as AddressInfo;
  standin.on("apps.connections.open", () => ({ url: `ws://127.0.0.1:${port}/link` }));
  h = await startHarness({
    label: "socket",
    policy: policyWith({ url: "http://127.0.0.1:9/hook" }),
    env: { SLACK_APP_TOKEN: "xapp-1-test" },
    standin,
  });
});
afterAll(async () => {
  await h?.stop();
  await h?.standin.close();
  server?.close();
});

function sendEnvelope(id: string, text: string, userId = "U0ALICE") {
  const payload = slashCommandFields({ text, userId, responseUrl: h.standin.responseUrl(id) });
  socket?.send(
    JSON.stringify({ envelope_id: id, type: "slash_commands", accepts_response_payload: true, payload }),
  );
}

it("connects with the app token and answers /jit help over the socket", async () => {
  await waitFor(() => socket, { timeout: 10_000 });
  const open = h.standin.callsTo("apps.connections.open")[0];
  expect(open?.token).toBe("xapp-1-test");
  sendEnvelope("env-help", "help");
  const ack = await waitFor(() => received.find((m) => m.envelope_id === "env-help"));
  expect(ack.payload).toMatchObject({ response_type: "ephemeral" });
  expect(JSON.stringify(ack.payload)).toContain("/jit request &lt;resource&gt;");
});

it("files a request received over the socket", async () => {
  sendEnvelope("env-request", "request deploy-hook 30m via socket");
  await waitFor(() => received.find((m) => m.envelope_id === "env-request"));
  const reply = await h.standin.waitForResponse("env-request");
  expect(JSON.stringify(reply.body)).toMatch(/as R-[0-9A-Z]+/);
  expect(await h.db.accessRequest.count({ where: { reason: "via socket" } })).toBe(1);
});
