//! The audit log's hash chain: each entry carries the hash of the one before it, so an entry
//! changed, removed or inserted afterwards shows.
//!
//! An entry is written unlinked (`seq` NULL) by `staff::audit`, and the transaction that wrote
//! it links it just before it commits ([`seal`], called by `write_tx` and the SQLite writer):
//! under the lock of the one-row `audit_head` (a row lock on PostgreSQL, the write lock on
//! SQLite), it gives each unlinked entry the next position and `hash = SHA-256(previous hash,
//! the entry)`, and moves the head. Taking the head last, at commit, keeps the lock order (it
//! comes after every lock and slot row) and holds it only for the commit, and concurrent staff
//! writes on several instances still form one line: the second waits for the first's commit
//! and links after it.
//!
//! Retention erases personal data from old entries (free-text reasons, the client address key,
//! a stranger's login). So that the chain still verifies, what may be erased is not hashed
//! itself: the entry's hash covers a digest of it made with a random nonce
//! (`personal_digest`), and erasing drops the nonce with the data. Until then `verify` checks
//! the digest against the data; after, the digest (meaningless without the nonce) stands in for
//! it. Everything else an entry says (when, who, what, to which reservation, the rest of the
//! detail) stays hashed for good.

use std::cell::Cell;

use diesel::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::schema::{audit_head, audit_log};
use super::DbConnection;

/// Keys of an entry's detail that may hold a resident's personal data (staff's free text).
pub(crate) const FREE_TEXT_KEYS: [&str; 2] = ["reason", "override_reason"];

/// The hash before the first entry.
const GENESIS: &str = "madoguchi-audit-genesis";

thread_local! {
    /// An entry was written on this thread since the last seal (a transaction runs on one thread).
    static PENDING: Cell<bool> = const { Cell::new(false) };
}

/// Called for each entry written: its transaction seals before it commits.
pub(crate) fn note_entry() {
    PENDING.with(|p| p.set(true));
}

/// Whether this thread wrote entries since the last seal (and forgets it).
pub(crate) fn take_pending() -> bool {
    PENDING.with(|p| p.replace(false))
}

/// The columns an entry's hash covers.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) at: chrono::NaiveDateTime,
    pub(crate) staff_login: Option<String>,
    pub(crate) action: String,
    pub(crate) target: String,
    pub(crate) detail: String,
    pub(crate) ip_key: Option<String>,
    pub(crate) seq: Option<i64>,
    pub(crate) hash: Option<String>,
    pub(crate) personal_digest: Option<String>,
    pub(crate) nonce: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The detail without its free text, in a canonical form (keys sorted).
fn kept_detail(detail: &str) -> String {
    match serde_json::from_str::<Value>(detail) {
        Ok(Value::Object(mut map)) => {
            for key in FREE_TEXT_KEYS {
                map.remove(key);
            }
            let sorted: std::collections::BTreeMap<String, Value> = map.into_iter().collect();
            serde_json::to_string(&sorted).unwrap_or_default()
        }
        _ => detail.to_string(),
    }
}

/// The digest of what retention may erase, with the entry's nonce.
pub(crate) fn personal_digest(e: &Entry, nonce: &str) -> String {
    let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::Null);
    let free: Vec<Value> = FREE_TEXT_KEYS
        .iter()
        .map(|k| detail.get(k).cloned().unwrap_or(Value::Null))
        .collect();
    let personal = serde_json::json!([nonce, e.target, free, e.ip_key]);
    hex(&Sha256::digest(personal.to_string().as_bytes()))
}

/// Actions whose target is what a stranger typed at sign-in (erased by retention unless it is
/// an account's login): hashed through the digest only.
const TYPED_TARGETS: [&str; 2] = ["staff.login_failed", "staff.login_lockout"];

/// The entry's hash, after `previous`: everything it says but what retention may erase, and
/// the digest of that.
fn link(previous: &str, seq: i64, e: &Entry, personal_digest: &str) -> String {
    let target = (!TYPED_TARGETS.contains(&e.action.as_str())).then_some(&e.target);
    let content = serde_json::json!([
        previous,
        seq,
        e.id,
        e.at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        e.staff_login,
        e.action,
        target,
        kept_detail(&e.detail),
        personal_digest,
    ]);
    hex(&Sha256::digest(content.to_string().as_bytes()))
}

/// Whether what retention erases is gone from the entry (so its nonce may be gone too): no
/// free text, no client address key, and a typed sign-in name erased or an account's login.
fn erased(e: &Entry, logins: &std::collections::BTreeSet<String>) -> bool {
    let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::Null);
    let free_text_gone = FREE_TEXT_KEYS.iter().all(|k| match detail.get(k) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s == "(erased)",
        Some(_) => false,
    });
    let target_gone = !TYPED_TARGETS.contains(&e.action.as_str())
        || e.target == "(erased)"
        || logins.contains(&e.target);
    free_text_gone && e.ip_key.is_none() && target_gone
}

fn random_nonce() -> String {
    hex(&rand::random::<[u8; 16]>())
}

/// The unlinked entries, oldest first (at most `limit`), locked on PostgreSQL.
fn unlinked(conn: &mut DbConnection, limit: Option<i64>) -> QueryResult<Vec<Entry>> {
    let query = audit_log::table
        .filter(audit_log::seq.is_null())
        .order((audit_log::at.asc(), audit_log::id.asc()))
        .limit(limit.unwrap_or(i64::MAX));
    match conn {
        DbConnection::Pg(c) => query.select(Entry::as_select()).for_update().load(c),
        DbConnection::Sqlite(_) => query.select(Entry::as_select()).load(conn),
    }
}

/// Links the unlinked entries (this transaction's, and any written outside a transaction) to
/// the end of the chain. Called inside the transaction, just before its commit.
pub(crate) fn seal(conn: &mut DbConnection) -> QueryResult<usize> {
    seal_some(conn, None)
}

/// Links entries left unlinked (written before the chain existed, or by an older version
/// during a rolling upgrade) in transactions of `batch` entries, so that no one transaction
/// holds the writer for long. At start-up.
pub(crate) fn link_backlog(conn: &mut DbConnection, batch: i64) -> QueryResult<usize> {
    let mut linked = 0;
    loop {
        let n = super::Tx::run(conn, |tx| seal_some(tx, Some(batch)))?;
        linked += n;
        if n == 0 {
            return Ok(linked);
        }
    }
}

fn seal_some(conn: &mut DbConnection, limit: Option<i64>) -> QueryResult<usize> {
    let (mut seq, mut previous): (i64, String) = match conn {
        DbConnection::Pg(c) => audit_head::table
            .find(1)
            .select((audit_head::seq, audit_head::hash))
            .for_update()
            .first(c)?,
        DbConnection::Sqlite(_) => audit_head::table
            .find(1)
            .select((audit_head::seq, audit_head::hash))
            .first(conn)?,
    };
    let unlinked = unlinked(conn, limit)?;
    // Linking stores the instant as read back (PostgreSQL keeps microseconds).
    for e in &unlinked {
        seq += 1;
        let nonce = random_nonce();
        let digest = personal_digest(e, &nonce);
        let hash = link(&previous, seq, e, &digest);
        let linked = diesel::update(
            audit_log::table
                .find(&e.id)
                .filter(audit_log::seq.is_null()),
        )
        .set((
            audit_log::seq.eq(seq),
            audit_log::hash.eq(&hash),
            audit_log::personal_digest.eq(&digest),
            audit_log::nonce.eq(&nonce),
        ))
        .execute(conn)?;
        if linked != 1 {
            // Under the head's lock nobody else links: this would be a fault, not a race.
            return Err(diesel::result::Error::RollbackTransaction);
        }
        previous = hash;
    }
    if !unlinked.is_empty() {
        diesel::update(audit_head::table.find(1))
            .set((audit_head::seq.eq(seq), audit_head::hash.eq(&previous)))
            .execute(conn)?;
    }
    Ok(unlinked.len())
}

/// What `madoguchi audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerdict {
    /// Every entry links to the one before; the head is the last entry's hash.
    Intact {
        entries: i64,
        erased: i64,
        /// Written but not yet linked (outside any transaction, or by an older version).
        unlinked: i64,
        head: String,
    },
    /// The first entry (by position) that does not match, and how.
    Broken { seq: i64, id: String, what: String },
}

/// Walks the chain from its start, in one read transaction (a snapshot: writes going on
/// meanwhile are not seen half-way). `expect_head`: a head noted earlier, which the chain must
/// still pass through.
pub fn verify(conn: &mut DbConnection, expect_head: Option<&str>) -> QueryResult<ChainVerdict> {
    use diesel::connection::SimpleConnection;
    let begin = match conn {
        DbConnection::Pg(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        DbConnection::Sqlite(_) => "BEGIN",
    };
    conn.batch_execute(begin)?;
    let verdict = walk(conn, expect_head);
    let _ = conn.batch_execute("ROLLBACK");
    verdict
}

fn walk(conn: &mut DbConnection, expect_head: Option<&str>) -> QueryResult<ChainVerdict> {
    let (head_seq, head_hash): (i64, String) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?;
    let unlinked: i64 = audit_log::table
        .filter(audit_log::seq.is_null())
        .count()
        .get_result(conn)?;
    let logins: std::collections::BTreeSet<String> = super::schema::staff::table
        .select(super::schema::staff::login)
        .load(conn)?
        .into_iter()
        .collect();
    let mut walked = Walked {
        previous: GENESIS.to_string(),
        entries: 0,
        erased: 0,
        met_expected: expect_head.is_none_or(|h| h == GENESIS),
    };
    loop {
        let page: Vec<Entry> = audit_log::table
            .filter(audit_log::seq.gt(walked.entries))
            .order(audit_log::seq.asc())
            .limit(1000)
            .select(Entry::as_select())
            .load(conn)?;
        if page.is_empty() {
            break;
        }
        for e in page {
            if let Err(broken) = walked.step(&e, &logins, expect_head) {
                return Ok(broken);
            }
        }
    }
    Ok(walked.end(head_seq, &head_hash, expect_head, unlinked))
}

/// Where a walk of the chain is.
struct Walked {
    previous: String,
    entries: i64,
    erased: i64,
    met_expected: bool,
}

impl Walked {
    /// The next entry: its position, its personal data against its digest, its hash.
    fn step(
        &mut self,
        e: &Entry,
        logins: &std::collections::BTreeSet<String>,
        expect_head: Option<&str>,
    ) -> Result<(), ChainVerdict> {
        let seq = e.seq.unwrap_or_default();
        let broken = |what: &str| ChainVerdict::Broken {
            seq,
            id: e.id.clone(),
            what: what.to_string(),
        };
        self.entries += 1;
        let expected = self.entries;
        if seq != expected {
            return Err(ChainVerdict::Broken {
                seq: expected,
                id: String::new(),
                what: format!(
                    "entry {expected} is missing (the next is entry {seq}, {})",
                    e.id
                ),
            });
        }
        let Some(digest) = e.personal_digest.as_deref() else {
            return Err(broken("it has no digest"));
        };
        match &e.nonce {
            Some(nonce) if personal_digest(e, nonce) != digest => {
                return Err(broken("its reason, target or client address was changed"));
            }
            Some(_) => {}
            None if erased(e, logins) => self.erased += 1,
            None => {
                return Err(broken(
                    "its nonce is gone but its personal data is not erased (changed after it was written)",
                ))
            }
        }
        let hash = link(&self.previous, seq, e, digest);
        if e.hash.as_deref() != Some(hash.as_str()) {
            return Err(broken(
                "its content does not match its hash (changed after it was written)",
            ));
        }
        self.met_expected = self.met_expected || expect_head == Some(hash.as_str());
        self.previous = hash;
        Ok(())
    }

    /// The walk's end against the head, and the head noted earlier.
    fn end(
        self,
        head_seq: i64,
        head_hash: &str,
        expect_head: Option<&str>,
        unlinked: i64,
    ) -> ChainVerdict {
        let broken = |what: String| ChainVerdict::Broken {
            seq: self.entries,
            id: String::new(),
            what,
        };
        if head_seq != self.entries || head_hash != self.previous {
            return broken(if self.entries < head_seq {
                format!(
                    "the head says {head_seq} entries, the log has {}: entries were removed from its end",
                    self.entries
                )
            } else {
                format!(
                    "the head says {head_seq} entries ending in {head_hash}, the log has {} ending in {}: the head or the log's end was rewritten",
                    self.entries, self.previous
                )
            });
        }
        if !self.met_expected {
            return broken(format!(
                "the head noted earlier ({}) is not in the chain: entries before it were rewritten",
                expect_head.unwrap_or_default()
            ));
        }
        ChainVerdict::Intact {
            entries: self.entries,
            erased: self.erased,
            unlinked,
            head: self.previous,
        }
    }
}
