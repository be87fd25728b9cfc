/**
 * Slack's external file upload for the stand-in, in its three steps and with their argument rules:
 * `files.getUploadURLExternal` (filename and a positive integer length, required) hands out an
 * upload URL and a file id; the bytes are POSTed to that URL (raw, or as a multipart form's file);
 * `files.completeUploadExternal` (a JSON array `files` of `{ id, title? }`, required) finishes
 * uploads whose bytes arrived and match the announced length, and shares them to `channel_id` (or the
 * comma-separated `channels`; `thread_ts` needs exactly one channel). Without a channel the file
 * stays private, as in Slack.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export interface StandinFile {
  id: string;
  filename: string;
  /** The length announced to files.getUploadURLExternal. */
  length: number;
  altText?: string;
  title?: string;
  /** What was POSTed to the upload URL. */
  bytes?: Buffer;
  completed: boolean;
  /** Channels it was shared to on completion (none: private). */
  channels: string[];
  initialComment?: string;
  threadTs?: string;
}

type Args = Record<string, unknown>;
type Fail = (error: string, messages?: string[]) => never;

const MAX_FILE_BYTES = 1024 * 1024 * 1024;

export function createFileUploads(origin: () => string, fail: Fail) {
  const files = new Map<string, StandinFile>();
  const text = (value: unknown) =>
    typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined;

  const getUploadURLExternal = (args: Args) => {
    const filename = text(args.filename);
    if (!filename) fail("invalid_arguments", ["[ERROR] missing required field: filename"]);
    const lengthText = text(args.length);
    if (lengthText === undefined) fail("invalid_arguments", ["[ERROR] missing required field: length"]);
    const length = Number(lengthText);
    if (!/^[0-9]+$/.test(lengthText) || length < 1) {
      fail("invalid_arguments", ["[ERROR] length must be a positive integer [json-pointer:/length]"]);
    }
    if (length > MAX_FILE_BYTES) fail("file_too_large");
    const id = `F${randomBytes(5).toString("hex").toUpperCase()}`;
    const altText = text(args.alt_text) ?? text(args.alt_txt);
    files.set(id, { id, filename, length, completed: false, channels: [], ...(altText ? { altText } : {}) });
    return { upload_url: `${origin()}/upload/${id}`, file_id: id };
  };

  const completeUploadExternal = (args: Args) => {
    const list = args.files;
    if (list === undefined) fail("invalid_arguments", ["[ERROR] missing required field: files"]);
    if (!Array.isArray(list) || list.length === 0) {
      fail("invalid_arguments", [
        "[ERROR] files must be a non-empty array of {id, title} [json-pointer:/files]",
      ]);
    }
    const channelId = text(args.channel_id);
    const channels = channelId ? [channelId] : (text(args.channels) ?? "").split(",").filter(Boolean);
    const threadTs = text(args.thread_ts);
    if (threadTs && channels.length !== 1) {
      fail("invalid_arguments", ["[ERROR] thread_ts needs exactly one channel [json-pointer:/thread_ts]"]);
    }
    const found = list.map((entry, i) => {
      const id = typeof entry === "object" && entry !== null ? text((entry as Args).id) : undefined;
      if (!id) fail("invalid_arguments", [`[ERROR] missing required field: id [json-pointer:/files/${i}]`]);
      const file = files.get(id);
      if (!file || file.completed) fail("file_not_found");
      if (!file.bytes) fail("file_upload_not_found", [`[ERROR] nothing was uploaded for ${id}`]);
      if (file.bytes.length !== file.length) fail("file_size_mismatch");
      return { file, title: text((entry as Args).title) };
    });
    const initialComment = text(args.initial_comment);
    for (const { file, title } of found) {
      file.completed = true;
      file.channels = channels;
      if (title) file.title = title;
      if (initialComment) file.initialComment = initialComment;
      if (threadTs) file.threadTs = threadTs;
    }
    return {
      files: found.map(({ file }) => ({
        id: file.id,
        name: file.filename,
        title: file.title ?? file.filename,
      })),
    };
  };

  /** The upload URL: raw bytes, or a multipart form whose file part holds them. */
  async function handleUpload(req: IncomingMessage, res: ServerResponse, id: string, raw: Buffer) {
    const file = files.get(id);
    if (!file || file.completed) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("file not found");
      return;
    }
    const type = String(req.headers["content-type"] ?? "");
    let bytes = raw;
    if (type.startsWith("multipart/form-data")) {
      const form = await new Response(new Uint8Array(raw), { headers: { "content-type": type } }).formData();
      const part = [...form.values()].find((v) => typeof v !== "string");
      bytes = part && typeof part !== "string" ? Buffer.from(await part.arrayBuffer()) : Buffer.alloc(0);
    }
    file.bytes = bytes;
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(`OK - ${bytes.length}`);
  }

  return {
    files,
    methods: {
      "files.getUploadURLExternal": getUploadURLExternal,
      "files.completeUploadExternal": completeUploadExternal,
    },
    handleUpload,
  };
}
