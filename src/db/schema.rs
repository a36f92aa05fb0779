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
    }
}
