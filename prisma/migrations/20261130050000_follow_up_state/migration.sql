-- AlterTable
ALTER TABLE "AccessRequest" ADD COLUMN     "notifiedStatus" "RequestStatus";

-- AlterTable
ALTER TABLE "CardMessage" ADD COLUMN     "renderedStatus" "RequestStatus";

-- CreateIndex
CREATE INDEX "AccessRequest_notifiedStatus_status_idx" ON "AccessRequest"("notifiedStatus", "status");

-- CreateIndex
CREATE INDEX "CardMessage_renderedStatus_idx" ON "CardMessage"("renderedStatus");


-- Backfill: requests and cards that exist at upgrade time count as told and shown, so the
-- reconciler does not DM every past requester again or touch every old card.
UPDATE "AccessRequest" SET "notifiedStatus" = "status" WHERE "status" NOT IN ('PENDING', 'APPROVED');

UPDATE "CardMessage" AS c SET "renderedStatus" = r."status"
FROM "AccessRequest" AS r WHERE r."id" = c."requestId";
