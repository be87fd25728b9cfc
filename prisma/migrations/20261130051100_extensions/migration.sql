-- CreateEnum
CREATE TYPE "ExtensionStatus" AS ENUM ('PENDING', 'APPROVED', 'EXTENDED', 'DENIED', 'TIMED_OUT', 'FAILED');

-- AlterTable
ALTER TABLE "Grant" ADD COLUMN     "extensions" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "remindedFor" INTEGER;

-- CreateTable
CREATE TABLE "Extension" (
    "id" TEXT NOT NULL,
    "requestId" TEXT NOT NULL,
    "grantId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "requesterId" TEXT NOT NULL,
    "durationSec" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "status" "ExtensionStatus" NOT NULL DEFAULT 'PENDING',
    "requiredApprovals" INTEGER NOT NULL,
    "timeoutAt" TIMESTAMP(3) NOT NULL,
    "newExpiresAt" TIMESTAMP(3),
    "lastError" TEXT,
    "notifiedStatus" "ExtensionStatus",
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Extension_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ExtensionDecision" (
    "id" SERIAL NOT NULL,
    "extensionId" TEXT NOT NULL,
    "approverId" TEXT NOT NULL,
    "outcome" "DecisionOutcome" NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ExtensionDecision_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ExtensionCard" (
    "id" SERIAL NOT NULL,
    "extensionId" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "ts" TEXT NOT NULL,
    "recipientId" TEXT,
    "renderedStatus" "ExtensionStatus",
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ExtensionCard_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Extension_status_timeoutAt_idx" ON "Extension"("status", "timeoutAt");

-- CreateIndex
CREATE UNIQUE INDEX "Extension_grantId_seq_key" ON "Extension"("grantId", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "ExtensionDecision_extensionId_approverId_key" ON "ExtensionDecision"("extensionId", "approverId");

-- CreateIndex
CREATE UNIQUE INDEX "ExtensionCard_extensionId_channel_key" ON "ExtensionCard"("extensionId", "channel");

-- AddForeignKey
ALTER TABLE "Extension" ADD CONSTRAINT "Extension_grantId_fkey" FOREIGN KEY ("grantId") REFERENCES "Grant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ExtensionDecision" ADD CONSTRAINT "ExtensionDecision_extensionId_fkey" FOREIGN KEY ("extensionId") REFERENCES "Extension"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ExtensionCard" ADD CONSTRAINT "ExtensionCard_extensionId_fkey" FOREIGN KEY ("extensionId") REFERENCES "Extension"("id") ON DELETE CASCADE ON UPDATE CASCADE;

