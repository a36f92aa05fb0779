//! The API test suite: one binary, a file per feature. Runs on SQLite by default and on
//! PostgreSQL with MADOGUCHI_TEST_DB=postgres (scripts/test runs both).

mod helpers;
mod relay;
mod smtp;

mod admin;
mod booking;
mod calendar;
mod cli;
mod concurrency;
mod contract;
mod desk;
mod errors;
mod fair;
mod fairness;
mod guard;
mod holds;
mod hostile;
mod jobs;
mod load;
mod lottery;
mod mail;
mod mail_tls;
mod migrations;
mod operations;
mod parties;
mod sign_in;
mod staff;
mod tickets;
