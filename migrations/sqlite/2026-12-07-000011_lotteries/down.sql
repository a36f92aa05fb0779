DROP TABLE lottery_entries;
DROP TABLE lotteries;
