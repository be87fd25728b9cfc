import type { WebClient } from "@slack/web-api";

export interface PngUpload {
  channel: string;
  filename: string;
  title: string;
  altText: string;
  bytes: Buffer;
}

/** Slack's upload URL is its own host, not the Web API: give it a bound of its own. */
const UPLOAD_TIMEOUT_MS = 30_000;

/**
 * Shares an image in a channel through Slack's external upload: ask for an upload URL and a file
 * id (files.getUploadURLExternal), send the bytes there, then complete the upload into the channel
 * (files.completeUploadExternal with channel_id). Throws on any failed step.
 */
export async function uploadPng(client: WebClient, upload: PngUpload): Promise<string> {
  const target = await client.files.getUploadURLExternal({
    filename: upload.filename,
    length: upload.bytes.length,
    alt_text: upload.altText,
  });
  if (!target.upload_url || !target.file_id) throw new Error("Slack returned no upload URL");
  const sent = await fetch(target.upload_url, {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: new Uint8Array(upload.bytes),
    signal: AbortSignal.timeout(UPLOAD_TIMEOUT_MS),
  });
  // The host is Slack's; the URL's path is a one-time credential, so it is not put in the error.
  if (!sent.ok) throw new Error(`the file upload was refused (HTTP ${sent.status})`);
  await client.files.completeUploadExternal({
    files: [{ id: target.file_id, title: upload.title }],
    channel_id: upload.channel,
  });
  return target.file_id;
}
