-- CreateTable
CREATE TABLE "ProviderHold" (
    "target" TEXT NOT NULL,
    "grantId" TEXT NOT NULL,
    "preExisting" BOOLEAN NOT NULL,
    "prior" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ProviderHold_pkey" PRIMARY KEY ("target","grantId")
);

-- CreateIndex
CREATE INDEX "ProviderHold_grantId_idx" ON "ProviderHold"("grantId");

