-- A party (several people in one booking): each of its reservations (the first person's too)
-- names the party by the first person's reservation id; a booking of one has no row here. The
-- party counts once toward booking.max_active_per_email.
CREATE TABLE party_members (
    reservation_id TEXT PRIMARY KEY NOT NULL,
    party_id TEXT NOT NULL,
    -- 0 for the first person, then the others in the order the booking gave them.
    position INTEGER NOT NULL
);
CREATE INDEX party_members_party ON party_members (party_id);
-- madoguchi_book counts a party once for the address, as the service's checks do.
CREATE OR REPLACE FUNCTION madoguchi_book(p JSONB) RETURNS JSONB
LANGUAGE plpgsql
-- Its statements look rows up by key: one plan each, kept for the session, rather than
-- planned again for every call's values.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    now_ts TIMESTAMP := (p->>'now')::timestamp;
    v_email TEXT;
    v_key TEXT;
    day_lock BIGINT;
    person_lock BIGINT := (p->>'person_lock')::bigint;
    email_lock BIGINT;
    n_closed BIGINT;
    n_person BIGINT;
    n_email BIGINT;
    n_lottery BIGINT;
    done JSONB;
    factor INTEGER := CASE WHEN (p->>'hold_phone_seats')::boolean THEN 1 ELSE 0 END;
    seats INTEGER;
    res_id TEXT;
BEGIN
    -- The link, used up (verification::use_token).
    UPDATE verifications SET used_at = now_ts
     WHERE token_hash = p->>'token_hash' AND used_at IS NULL
       AND refusals < (p->>'max_refusals')::integer AND expires_at > now_ts
    RETURNING email, email_key INTO v_email, v_key;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('used', false);
    END IF;
    done := jsonb_build_object('used', true, 'email', v_email, 'email_key', v_key);
    IF v_key IS NULL THEN
        RETURN done;
    END IF;
    -- The locks in the service's order (db::lock: by rank, then by id): the days shared (rank
    -- 5), then the person and the address (rank 7, one rank) by id.
    FOR day_lock IN
        SELECT DISTINCT e::bigint FROM jsonb_array_elements_text(p->'day_locks') AS e ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock_shared(day_lock);
    END LOOP;
    email_lock := madoguchi_lock_id('email:' || v_key);
    PERFORM pg_advisory_xact_lock(least(person_lock, email_lock));
    IF email_lock <> person_lock THEN
        PERFORM pg_advisory_xact_lock(greatest(person_lock, email_lock));
    END IF;
    -- The checks (reservations::repo::booking_checks).
    SELECT
        (SELECT COUNT(*) FROM closures WHERE counter_id = p->>'counter_id'
            AND closed_on = (p->>'visit_on')::date),
        (SELECT COUNT(*) FROM reservations WHERE person_key = p->>'person_key'
            AND procedure_id = p->>'procedure_id'
            AND status IN ('confirmed', 'checked_in') AND ends_at > now_ts),
        (SELECT COUNT(DISTINCT COALESCE(pm.party_id, r.id)) FROM reservations r
            LEFT JOIN party_members pm ON pm.reservation_id = r.id WHERE r.email_key = v_key
            AND r.status IN ('confirmed', 'checked_in') AND r.ends_at > now_ts),
        (SELECT COUNT(*) FROM lotteries WHERE counter_id = p->>'counter_id'
            AND month = p->>'month' AND drawn_at IS NULL)
    INTO n_closed, n_person, n_email, n_lottery;
    done := done || jsonb_build_object('checks', jsonb_build_object('closed', n_closed,
        'person', n_person, 'email', n_email, 'lottery', n_lottery));
    IF n_closed > 0 OR n_lottery > 0 THEN
        RETURN done;
    END IF;
    -- The seat (calendar::repo::take_seat_or_create). This function's own step first: a slot
    -- already full by what is committed says so without its row's lock. The upsert locks the
    -- row even when it takes no seat, so at the rush every refusal queued behind the slot's
    -- bookings until each committed. A seat freed by a transaction not yet committed is not
    -- seen (the service's upsert would have waited for it): this booking came before it.
    IF EXISTS (SELECT 1 FROM slots WHERE id = p->'slot'->>'id'
               AND booked + offer_held + phone_held * factor >= capacity) THEN
        RETURN done || jsonb_build_object('taken', false);
    END IF;
    EXECUTE madoguchi_insert_sql('slots', p->'slot',
        'ON CONFLICT (id) DO UPDATE SET booked = slots.booked + 1, updated_at = $2, '
        'version = slots.version + 1 '
        'WHERE slots.booked + slots.offer_held + slots.phone_held * $3 < slots.capacity '
        'RETURNING booked')
    INTO seats USING p->'slot', now_ts, factor;
    IF seats IS NULL OR seats < 1 THEN
        RETURN done || jsonb_build_object('taken', false);
    END IF;
    -- The limits are the service's to say (a refusal rolls this back).
    IF n_person > 0 OR n_email >= (p->>'max_per_email')::bigint THEN
        RETURN done || jsonb_build_object('taken', true, 'stored', false);
    END IF;
    -- The reservation (unless its number is taken: the service draws another) and its mail.
    EXECUTE madoguchi_insert_sql('reservations', p->'reservation',
        'ON CONFLICT (reservation_number) DO NOTHING RETURNING id')
    INTO res_id
    USING p->'reservation' || jsonb_build_object('email', v_email, 'email_key', v_key);
    IF res_id IS NULL THEN
        RETURN done || jsonb_build_object('taken', true, 'stored', false);
    END IF;
    EXECUTE madoguchi_insert_sql('outbox', p->'mail', '')
    USING p->'mail' || jsonb_build_object('recipient', v_email, 'reservation_id', res_id);
    RETURN done || jsonb_build_object('taken', true, 'stored', true);
END
$$;
