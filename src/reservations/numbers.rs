//! Reservation numbers: short enough to read over the phone, with no look-alike characters
//! (no 0/O/Q/D, 1/I/L, 2/Z, 5/S, 8/B, 6/G, U/V).

use rand::Rng;

const ALPHABET: &[u8] = b"ACEFHJKMNPRTWXY3479";

/// `XXXX-XXXX`: 19^8 ≈ 1.7 × 10^10 numbers; callers check uniqueness.
pub(crate) fn new_reservation_number() -> String {
    let mut rng = rand::rng();
    let mut s = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            s.push('-');
        }
        s.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
    s
}

/// A number as typed by staff or read back by a resident: upper-cased, hyphen optional.
pub(crate) fn normalise_reservation_number(raw: &str) -> Option<String> {
    let compact: String = raw
        .trim()
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (compact.len() == 8 && compact.bytes().all(|b| ALPHABET.contains(&b)))
        .then(|| format!("{}-{}", &compact[..4], &compact[4..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_unambiguous() {
        for _ in 0..200 {
            let n = new_reservation_number();
            assert_eq!(n.len(), 9);
            assert!(n.len() <= 12);
            assert!(!n.chars().any(|c| "0O1IL2Z5S8B6GUVQD".contains(c)), "{n}");
            assert_eq!(
                normalise_reservation_number(&n.to_lowercase()),
                Some(n.clone())
            );
        }
        assert_eq!(
            normalise_reservation_number("acef hjkm"),
            Some("ACEF-HJKM".into())
        );
        assert_eq!(normalise_reservation_number("ACEF-HJK0"), None);
    }
}
