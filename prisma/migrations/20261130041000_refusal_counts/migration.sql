-- CreateTable
CREATE TABLE "RefusalCount" (
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,
    "firstAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "RefusalCount_pkey" PRIMARY KEY ("actor","action","subject","reason")
);

-- CreateIndex
CREATE INDEX "RefusalCount_subject_idx" ON "RefusalCount"("subject");

