//! Table definitions shared by both backends (kept in the common subset of column types).

diesel::table! {
    slots (id) {
        id -> Text,
        counter_id -> Text,
        visit_on -> Date,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        capacity -> Integer,
        booked -> Integer,
        updated_at -> Timestamp,
        phone_held -> Integer,
        offer_held -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    verifications (id) {
        id -> Text,
        token_hash -> Text,
        email -> Text,
        ip_key -> Text,
        counter_id -> Nullable<Text>,
        slot_id -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        email_key -> Nullable<Text>,
        refusals -> Integer,
        procedure_id -> Nullable<Text>,
        applicant_type -> Nullable<Text>,
    }
}

diesel::table! {
    reservations (id) {
        id -> Text,
        reservation_number -> Text,
        manage_token_hash -> Text,
        status -> Text,
        channel -> Text,
        counter_id -> Text,
        slot_id -> Text,
        visit_on -> Date,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        procedure_id -> Text,
        applicant_type -> Text,
        name -> Text,
        name_kana -> Text,
        phone -> Text,
        email -> Nullable<Text>,
        representative_name -> Nullable<Text>,
        notes -> Nullable<Text>,
        person_key -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        cancelled_at -> Nullable<Timestamp>,
        cancel_reason -> Nullable<Text>,
        created_by -> Nullable<Text>,
        reminder_sent_at -> Nullable<Timestamp>,
        ics_sequence -> Integer,
        erased_at -> Nullable<Timestamp>,
        visit -> Integer,
        first_visit_id -> Nullable<Text>,
        completed_at -> Nullable<Timestamp>,
        email_key -> Nullable<Text>,
        cancel_message -> Nullable<Text>,
    }
}

diesel::table! {
    waitlist_links (token_hash) {
        token_hash -> Text,
        waitlist_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    waitlist (id) {
        id -> Text,
        manage_token_hash -> Text,
        counter_id -> Text,
        visit_on -> Date,
        procedure_id -> Text,
        applicant_type -> Text,
        name -> Text,
        name_kana -> Text,
        phone -> Text,
        email -> Text,
        representative_name -> Nullable<Text>,
        person_key -> Text,
        status -> Text,
        offer_slot_id -> Nullable<Text>,
        offer_expires_at -> Nullable<Timestamp>,
        offers -> Integer,
        seq -> BigInt,
        reservation_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        email_key -> Nullable<Text>,
    }
}

diesel::table! {
    manage_links (token_hash) {
        token_hash -> Text,
        reservation_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    job_runs (id) {
        id -> Text,
        job -> Text,
        scheduled_at -> Timestamp,
        status -> Text,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        lease_until -> Nullable<Timestamp>,
        instance -> Nullable<Text>,
        rows -> Nullable<BigInt>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    daily_stats (counter_id, day, procedure_id) {
        counter_id -> Text,
        day -> Date,
        procedure_id -> Text,
        booked -> BigInt,
        cancelled -> BigInt,
        completed -> BigInt,
        no_show -> BigInt,
        walk_ins -> BigInt,
        wait_p50 -> Nullable<BigInt>,
        wait_p90 -> Nullable<BigInt>,
        computed_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        kind -> Text,
        recipient -> Text,
        message_id -> Text,
        payload -> Text,
        subject -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        reservation_id -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        priority -> Integer,
    }
}

diesel::table! {
    staff (id) {
        id -> Text,
        login -> Text,
        display_name -> Text,
        role -> Text,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        totp_secret -> Nullable<Text>,
        totp_enrolled_at -> Nullable<Timestamp>,
        totp_last_step -> Nullable<BigInt>,
        counter_id -> Nullable<Text>,
    }
}

diesel::table! {
    staff_sessions (id) {
        id -> Text,
        token_hash -> Text,
        staff_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_seen_at -> Nullable<Timestamp>,
        enrol_only -> Bool,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        staff_login -> Nullable<Text>,
        action -> Text,
        target -> Text,
        detail -> Text,
        ip_key -> Nullable<Text>,
        seq -> Nullable<BigInt>,
        hash -> Nullable<Text>,
        personal_digest -> Nullable<Text>,
        nonce -> Nullable<Text>,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    closures (id) {
        id -> Text,
        counter_id -> Text,
        closed_on -> Date,
        reason -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(reservations -> slots (slot_id));
diesel::joinable!(staff_sessions -> staff (staff_id));
diesel::allow_tables_to_appear_in_same_query!(
    slots,
    verifications,
    reservations,
    outbox,
    staff,
    staff_sessions,
    audit_log,
    closures
);

diesel::table! {
    tickets (id) {
        id -> Text,
        counter_id -> Text,
        service_on -> Date,
        kind -> Text,
        number -> Integer,
        label -> Text,
        status -> Text,
        reservation_id -> Nullable<Text>,
        procedure_id -> Nullable<Text>,
        slot_starts_at -> Nullable<Timestamp>,
        issued_at -> Timestamp,
        called_at -> Nullable<Timestamp>,
        desk -> Nullable<Text>,
        calls -> Integer,
        finished_at -> Nullable<Timestamp>,
        public_id -> Text,
        alert_requested_at -> Nullable<Timestamp>,
        alert_sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    ticket_sequences (counter_id, service_on, kind) {
        counter_id -> Text,
        service_on -> Date,
        kind -> Text,
        last_number -> Integer,
    }
}

diesel::table! {
    call_events (id) {
        id -> BigInt,
        counter_id -> Text,
        service_on -> Date,
        label -> Text,
        desk -> Text,
        called_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(tickets, reservations, ticket_sequences, call_events);
diesel::allow_tables_to_appear_in_same_query!(reservations, manage_links);
diesel::joinable!(manage_links -> reservations (reservation_id));
diesel::allow_tables_to_appear_in_same_query!(waitlist, waitlist_links);
diesel::joinable!(waitlist_links -> waitlist (waitlist_id));

diesel::table! {
    secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    staff_recovery_codes (id) {
        id -> Text,
        staff_id -> Text,
        code_hash -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    fair_start_requests (id) {
        id -> Text,
        opening -> Timestamp,
        link_hash -> Text,
        body -> Nullable<Text>,
        outcome -> Nullable<Text>,
        entered_at -> Timestamp,
        served_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    fair_start_draws (opening) {
        opening -> Timestamp,
        seed -> Text,
        claimed_by -> Text,
        lease_until -> Timestamp,
        served -> Integer,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    lotteries (id) {
        id -> Text,
        counter_id -> Text,
        month -> Text,
        applications_open -> Timestamp,
        applications_close -> Timestamp,
        draw_at -> Timestamp,
        seed -> Text,
        seed_sha256 -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        draw_claimed_by -> Nullable<Text>,
        draw_lease_until -> Nullable<Timestamp>,
        seats -> Nullable<Text>,
        drawn_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    lottery_entries (id) {
        id -> Text,
        lottery_id -> Text,
        manage_token_hash -> Text,
        channel -> Text,
        status -> Text,
        preferences -> Text,
        procedure_id -> Text,
        applicant_type -> Text,
        name -> Text,
        name_kana -> Text,
        phone -> Text,
        email -> Nullable<Text>,
        email_key -> Nullable<Text>,
        representative_name -> Nullable<Text>,
        person_key -> Text,
        won_slot -> Nullable<Text>,
        reservation_id -> Nullable<Text>,
        draw_rank -> Nullable<Integer>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(lotteries, lottery_entries);

diesel::table! {
    holds (id) {
        id -> Text,
        verification_hash -> Text,
        email_key -> Text,
        ip_key -> Text,
        counter_id -> Text,
        slot_id -> Text,
        visit_on -> Date,
        seats -> Integer,
        status -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        reservation_id -> Nullable<Text>,
    }
}

diesel::table! {
    party_members (reservation_id) {
        reservation_id -> Text,
        party_id -> Text,
        position -> Integer,
    }
}

diesel::allow_tables_to_appear_in_same_query!(reservations, party_members);
