-- Which hash each audit event uses: events written before this migration are plain sha256.
-- AlterTable
ALTER TABLE "AuditEvent" ADD COLUMN     "scheme" TEXT NOT NULL DEFAULT 'sha256';

