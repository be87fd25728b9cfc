-- AlterTable
ALTER TABLE "CardMessage" ADD COLUMN     "reminders" INTEGER NOT NULL DEFAULT 0;

