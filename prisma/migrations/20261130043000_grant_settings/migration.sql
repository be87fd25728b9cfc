-- AlterTable
ALTER TABLE "Grant" ADD COLUMN     "provider" TEXT,
ADD COLUMN     "settingsFingerprint" TEXT;

