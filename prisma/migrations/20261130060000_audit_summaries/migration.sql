-- CreateTable
CREATE TABLE "AuditSummary" (
    "key" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "windowFrom" TIMESTAMP(3) NOT NULL,
    "windowTo" TIMESTAMP(3) NOT NULL,
    "checkpointSeq" BIGINT NOT NULL,
    "checkpointHash" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "ts" TEXT,
    "requestedBy" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "postedAt" TIMESTAMP(3),

    CONSTRAINT "AuditSummary_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE INDEX "AuditSummary_kind_windowTo_idx" ON "AuditSummary"("kind", "windowTo");

-- CreateIndex
CREATE INDEX "AuditSummary_checkpointSeq_idx" ON "AuditSummary"("checkpointSeq");

-- CreateIndex
CREATE INDEX "AccessRequest_createdAt_resourceId_requesterId_breakglass_idx" ON "AccessRequest"("createdAt", "resourceId", "requesterId", "breakglass");

-- CreateIndex
CREATE INDEX "AuditEvent_action_at_resourceId_requestId_idx" ON "AuditEvent"("action", "at", "resourceId", "requestId");

-- CreateIndex
CREATE INDEX "RefusalCount_lastAt_idx" ON "RefusalCount"("lastAt");

