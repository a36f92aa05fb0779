//! Parsing of what residents type: email addresses, names, katakana, phone numbers, free text.
//! Parse, don't validate: each function returns the normalised value or says what is wrong.
//!
//! Input is NFKC-normalised first, so full-width digits and letters, half-width katakana
//! (ｶﾞ → ガ) and ideographic spaces all arrive in one form.

use unicode_normalization::UnicodeNormalization;

use crate::error::FieldProblem;

/// NFKC, trimmed, runs of white space folded into one ASCII space, control characters refused.
pub fn normalise(raw: &str) -> Result<String, FieldProblem> {
    let nfkc: String = raw.nfkc().collect();
    if nfkc.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(FieldProblem::ControlCharacters);
    }
    Ok(nfkc.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// An email address, lower-cased; strict enough to refuse typos, loose enough for real ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<EmailAddress, FieldProblem> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err(FieldProblem::Required);
        }
        if s.len() > 254 {
            return Err(FieldProblem::NotEmail);
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(FieldProblem::NotEmail);
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        if local_ok && domain_ok {
            Ok(EmailAddress(s))
        } else {
            Err(FieldProblem::NotEmail)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A person's name: 1 to `max` characters after normalisation.
pub fn parse_name(raw: &str, max: usize) -> Result<String, FieldProblem> {
    let s = normalise(raw)?;
    if s.is_empty() {
        return Err(FieldProblem::Required);
    }
    if s.chars().count() > max {
        return Err(FieldProblem::TooLong { max });
    }
    Ok(s)
}

pub const KANA_MAX: usize = 60;

/// A name in full-width katakana (フリガナ). Hiragana and half-width katakana are accepted and
/// converted; words are separated by one full-width space.
pub fn parse_kana(raw: &str) -> Result<String, FieldProblem> {
    let s = normalise(raw)?;
    if s.is_empty() {
        return Err(FieldProblem::Required);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = match c {
            // Hiragana ぁ..ゖ → katakana ァ..ヶ; ゝゞ → ヽヾ.
            '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => {
                char::from_u32(c as u32 + 0x60).unwrap_or(c)
            }
            _ => c,
        };
        match c {
            ' ' => out.push('\u{3000}'),
            '\u{30A1}'..='\u{30FA}' | 'ー' | '・' | 'ヽ' | 'ヾ' => out.push(c),
            _ => return Err(FieldProblem::NotKatakana),
        }
    }
    if out.chars().count() > KANA_MAX {
        return Err(FieldProblem::TooLong { max: KANA_MAX });
    }
    Ok(out)
}

/// The kana as a matching key: no spaces, small kana kept (they distinguish names).
pub fn kana_key(kana: &str) -> String {
    kana.chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{3000}' && *c != '・')
        .collect()
}

/// A Japanese phone number, as digits (`09012345678`). Accepts hyphens, spaces, brackets,
/// full-width digits and the +81 prefix.
pub fn parse_phone(raw: &str) -> Result<String, FieldProblem> {
    let s = normalise(raw)?;
    if s.is_empty() {
        return Err(FieldProblem::Required);
    }
    let mut digits = String::new();
    let rest = if let Some(rest) = s.strip_prefix("+81") {
        digits.push('0');
        rest
    } else if s.starts_with('+') {
        return Err(FieldProblem::NotPhone);
    } else {
        s.as_str()
    };
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '-' | ' ' | '(' | ')' | 'ー' | '‐' | '−' => {}
            _ => return Err(FieldProblem::NotPhone),
        }
    }
    // After +81 the trunk 0 may have been written too: +81 (0)90…
    if digits.starts_with("00") {
        digits.remove(0);
    }
    // 11 digits: mobile, IP and M2M numbers (and 0800); 10 digits: fixed lines, 0120, 0570.
    const ELEVEN_DIGIT_PREFIXES: [&str; 6] = ["020", "050", "060", "070", "080", "090"];
    let eleven_digit_prefix = ELEVEN_DIGIT_PREFIXES.iter().any(|p| digits.starts_with(p));
    let valid = match digits.len() {
        10 => digits.starts_with('0') && !digits.starts_with("00") && !eleven_digit_prefix,
        11 => eleven_digit_prefix,
        _ => false,
    };
    if valid {
        Ok(digits)
    } else {
        Err(FieldProblem::NotPhone)
    }
}

/// Optional free text (notes): at most `max` characters, line breaks kept.
pub fn parse_free_text(raw: &str, max: usize) -> Result<String, FieldProblem> {
    let nfkc: String = raw.nfkc().collect();
    if nfkc
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(FieldProblem::ControlCharacters);
    }
    let s = nfkc.trim().to_string();
    if s.chars().count() > max {
        return Err(FieldProblem::TooLong { max });
    }
    Ok(s)
}

/// Whether a 12-digit string is a valid individual number (マイナンバー): the last digit is the
/// check digit of the first eleven (番号法施行令 第8条).
pub fn is_individual_number(digits: &str) -> bool {
    let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 12 || digits.chars().count() != 12 {
        return false;
    }
    // P(n): the n-th digit from the right among the first 11 (n = 1..11).
    let sum: u32 = (1..=11u32)
        .map(|n| {
            let p = d[11 - n as usize];
            let q = if n <= 6 { n + 1 } else { n - 5 };
            p * q
        })
        .sum();
    let r = sum % 11;
    let check = if r <= 1 { 0 } else { 11 - r };
    d[11] == check
}

/// Whether text holds an individual number: 12 digits in a row (spaces or hyphens between
/// groups allowed, full-width digits too) that pass the check digit.
pub fn contains_individual_number(text: &str) -> bool {
    let nfkc: String = text.nfkc().collect();
    let chars: Vec<char> = nfkc.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        // A run of digits, with single separators between digits.
        let mut digits = String::new();
        let mut j = i;
        while j < chars.len() {
            let c = chars[j];
            if c.is_ascii_digit() {
                digits.push(c);
                j += 1;
            } else if (c == ' ' || c == '-')
                && j + 1 < chars.len()
                && chars[j + 1].is_ascii_digit()
                && !digits.is_empty()
            {
                j += 1;
            } else {
                break;
            }
        }
        if digits.len() == 12 && is_individual_number(&digits) {
            return true;
        }
        i = j.max(i + 1);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up number with a valid check digit: 12345678901 → check digit 8.
    const VALID: &str = "123456789018";

    #[test]
    fn the_check_digit_follows_the_cabinet_order() {
        assert!(is_individual_number(VALID));
        assert!(!is_individual_number("123456789012"));
        // r ≤ 1 gives check digit 0: eleven zeros sum to 0.
        assert!(is_individual_number("000000000000"));
        assert!(!is_individual_number("12345678901"));
    }

    #[test]
    fn an_individual_number_is_found_however_it_is_written() {
        assert!(contains_individual_number(&format!("番号は{VALID}です")));
        assert!(contains_individual_number("1234 5678 9018"));
        assert!(contains_individual_number("1234-5678-9018"));
        assert!(contains_individual_number("１２３４５６７８９０１８"));
        assert!(
            !contains_individual_number("123456789012"),
            "wrong check digit"
        );
        assert!(
            !contains_individual_number("1123456789018"),
            "13 digits is not one"
        );
        assert!(
            !contains_individual_number("090-1234-5678"),
            "a phone number"
        );
        assert!(!contains_individual_number("予約は2027年1月4日"));
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            EmailAddress::parse(" Taro.Yamada@Example.JP ")
                .unwrap()
                .as_str(),
            "taro.yamada@example.jp"
        );
        for bad in [
            "",
            "taro",
            "taro@",
            "@example.jp",
            "taro@example",
            "ta ro@example.jp",
            "taro@@example.jp",
            "taro..y@example.jp",
            "taro@-x.jp",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kana_is_normalised_to_full_width_katakana() {
        assert_eq!(parse_kana("ヤマダ タロウ").unwrap(), "ヤマダ\u{3000}タロウ");
        assert_eq!(
            parse_kana("やまだ　たろう").unwrap(),
            "ヤマダ\u{3000}タロウ"
        );
        assert_eq!(parse_kana("ﾔﾏﾀﾞ  ﾀﾛｳ").unwrap(), "ヤマダ\u{3000}タロウ");
        assert_eq!(parse_kana("スズキ・イチロー").unwrap(), "スズキ・イチロー");
        assert!(parse_kana("山田").is_err());
        assert!(parse_kana("Yamada").is_err());
        assert!(parse_kana("  ").is_err());
        assert_eq!(kana_key("ヤマダ\u{3000}タロウ"), "ヤマダタロウ");
    }

    #[test]
    fn phones_are_japanese_numbers_as_digits() {
        assert_eq!(parse_phone("090-1234-5678").unwrap(), "09012345678");
        assert_eq!(parse_phone("０７４８−３６−５５６０").unwrap(), "0748365560");
        assert_eq!(parse_phone("(0748) 36-5560").unwrap(), "0748365560");
        assert_eq!(parse_phone("+81 90 1234 5678").unwrap(), "09012345678");
        assert_eq!(parse_phone("+81 (0)90 1234 5678").unwrap(), "09012345678");
        assert_eq!(parse_phone("+819012345678").unwrap(), "09012345678");
        assert_eq!(parse_phone("0120-123-456").unwrap(), "0120123456");
        for bad in [
            "",
            "1234",
            "0901234567",
            "0001234567",
            "+1 555 123 4567",
            "090-1234-5678 ext 2",
            "01012345678",
        ] {
            assert!(parse_phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_spaces_folded() {
        assert_eq!(parse_name("  山田　 太郎 ", 50).unwrap(), "山田 太郎");
        assert!(parse_name("", 50).is_err());
        assert!(parse_name(&"あ".repeat(51), 50).is_err());
        assert!(parse_name("山田\u{7}", 50).is_err());
    }
}
