/** A pino destination that keeps every line in memory, for tests that read what jit logged. */
export function captureLog() {
  const lines: string[] = [];
  return {
    lines,
    stream: { write: (line: string) => void lines.push(line) },
    /** The lines parsed as JSON objects. */
    entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
