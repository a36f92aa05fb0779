//! Enums stored as TEXT, declared once beside the enum with [`text_enum!`]: the strings
//! (`as_str`, `FromStr`, `Display`, `ALL`, `STRINGS`) and a `ToSql`/`FromSql` implementation
//! for each backend (and for the `MultiConnection` backend that dispatches to them). Code
//! matches `ReservationStatus::Cancelled`; it never compares `"cancelled"`.
//!
//! The enum derives `AsExpression` and `FromSqlRow` with `sql_type = Text` where it is defined
//! and invokes `crate::db::text_enum!(Name { Variant => "text", … })` beside it, so `db/`
//! imports no domain module and a new status is one line in each.

/// Declares an enum's stored strings and its TEXT conversions on both backends.
macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
            pub const STRINGS: &'static [&'static str] = &[$($s),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $s),+
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s {
                    $($s => Ok($ty::$variant),)+
                    _ => Err(()),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        const _: () = {
            use std::io::Write as _;

            use diesel::deserialize::{self, FromSql};
            use diesel::pg::{Pg, PgValue};
            use diesel::serialize::{self, IsNull, Output, ToSql};
            use diesel::sql_types::Text;
            use diesel::sqlite::{Sqlite, SqliteValue};
            use $crate::db::{MultiBackend, MultiRawValue};

            impl ToSql<Text, Pg> for $ty {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                    out.write_all(self.as_str().as_bytes())?;
                    Ok(IsNull::No)
                }
            }

            impl ToSql<Text, Sqlite> for $ty {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                    out.set_value(self.as_str());
                    Ok(IsNull::No)
                }
            }

            impl ToSql<Text, MultiBackend> for $ty {
                fn to_sql<'b>(
                    &'b self,
                    out: &mut Output<'b, '_, MultiBackend>,
                ) -> serialize::Result {
                    out.set_value((Text, self));
                    Ok(IsNull::No)
                }
            }

            impl FromSql<Text, Pg> for $ty {
                fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                    let raw = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
                    raw.parse().map_err(|_| {
                        format!("unknown {} {raw:?} in the database", stringify!($ty)).into()
                    })
                }
            }

            impl FromSql<Text, Sqlite> for $ty {
                fn from_sql(bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
                    let raw = <String as FromSql<Text, Sqlite>>::from_sql(bytes)?;
                    raw.parse().map_err(|_| {
                        format!("unknown {} {raw:?} in the database", stringify!($ty)).into()
                    })
                }
            }

            impl FromSql<Text, MultiBackend> for $ty {
                fn from_sql(bytes: MultiRawValue<'_>) -> deserialize::Result<Self> {
                    bytes.from_sql::<Self, Text>()
                }
            }
        };
    };
}

pub(crate) use text_enum;
