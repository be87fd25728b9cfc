import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root, whether we run from src/ (tsx, vitest) or from dist/src/ (npm start). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find jit's package root");
    dir = parent;
  }
  return dir;
}

export const migrationsDir = (): string => join(packageRoot(), "prisma", "migrations");
