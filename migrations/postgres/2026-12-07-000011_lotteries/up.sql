-- Lotteries (抽選予約): a counter's month of visits drawn instead of booked first-come. The
-- seed's SHA-256 is published when the lottery is made; the seed itself once it is drawn.
-- `seats` is what every preferred slot had free when the draw began (JSON), so anyone with the
-- seed and the entries can run the draw again (`madoguchi lottery verify`).
CREATE TABLE lotteries (
    id TEXT PRIMARY KEY NOT NULL,
    counter_id TEXT NOT NULL,
    month TEXT NOT NULL,
    applications_open TIMESTAMP NOT NULL,
    applications_close TIMESTAMP NOT NULL,
    draw_at TIMESTAMP NOT NULL,
    seed TEXT NOT NULL,
    seed_sha256 TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    draw_claimed_by TEXT,
    draw_lease_until TIMESTAMP,
    seats TEXT,
    drawn_at TIMESTAMP
);
CREATE UNIQUE INDEX lotteries_counter_month ON lotteries (counter_id, month);
-- An entry: 1-3 preferred slots in order; `won_slot` and `draw_rank` are written by the draw.
CREATE TABLE lottery_entries (
    id TEXT PRIMARY KEY NOT NULL,
    lottery_id TEXT NOT NULL REFERENCES lotteries (id),
    manage_token_hash TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    preferences TEXT NOT NULL,
    procedure_id TEXT NOT NULL,
    applicant_type TEXT NOT NULL,
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT,
    email_key TEXT,
    representative_name TEXT,
    person_key TEXT NOT NULL,
    won_slot TEXT,
    reservation_id TEXT,
    draw_rank INTEGER,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX lottery_entries_lottery ON lottery_entries (lottery_id, status);
CREATE INDEX lottery_entries_person ON lottery_entries (lottery_id, person_key);
CREATE INDEX lottery_entries_email ON lottery_entries (lottery_id, email_key);
