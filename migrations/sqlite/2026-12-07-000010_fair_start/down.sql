DROP TABLE fair_start_draws;
DROP TABLE fair_start_requests;
