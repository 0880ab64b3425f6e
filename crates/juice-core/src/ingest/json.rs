//! Event payloads read as JavaScript's `JSON.parse` reads them, borrowing strings from the
//! message where they have no escapes: numbers as doubles (correctly rounded), objects with their
//! keys in source order and duplicates kept (the line writer resolves them as JavaScript does).

use std::borrow::Cow;

pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    Number(Num<'a>),
    Str(Cow<'a, str>),
    Array,
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

/// A number as its source text (checked against JSON's grammar). Most numbers are stored as
/// they were written, so converting one to a double is left until something needs it.
#[derive(Clone, Copy)]
pub(crate) struct Num<'a>(pub(crate) &'a str);

impl Num<'_> {
    /// The double `JSON.parse` gives: correctly rounded, too large becomes infinity.
    pub(crate) fn value(self) -> f64 {
        self.0.parse().unwrap_or(f64::NAN)
    }
}

/// Parses one payload. Arrays are kept only as a marker: no line protocol stores one.
pub(crate) fn parse(text: &str) -> Result<Json<'_>, String> {
    let mut p = Parser::new(text);
    p.ws();
    let v = p.value();
    p.ws();
    match v {
        Some(v) if p.at == p.s.len() => Ok(v),
        Some(_) => Err(p.message("unexpected text after the value")),
        None => Err(p.message(p.error)),
    }
}

/// A member of a flat object, as byte spans of the payload: see [`flat_object`].
#[derive(Clone, Copy)]
pub(crate) struct FlatMember {
    pub(crate) key: (usize, usize),
    pub(crate) value: FlatValue,
}

#[derive(Clone, Copy)]
pub(crate) enum FlatValue {
    Str(usize, usize),
    Num(usize, usize),
    Bool(bool),
    Null,
}

impl FlatMember {
    pub(crate) fn key<'a>(&self, text: &'a str) -> &'a str {
        &text[self.key.0..self.key.1]
    }

    pub(crate) fn value<'a>(&self, text: &'a str) -> Json<'a> {
        match self.value {
            FlatValue::Str(a, b) => Json::Str(Cow::Borrowed(&text[a..b])),
            FlatValue::Num(a, b) => Json::Number(Num(&text[a..b])),
            FlatValue::Bool(b) => Json::Bool(b),
            FlatValue::Null => Json::Null,
        }
    }
}

/// Most members a flat object may have: beyond, the general reader's indexed handling is cheaper
/// than looking back for duplicates.
pub(crate) const MAX_FLAT_MEMBERS: usize = 16;

/// Reads `text` as the common event shape without building a tree: one object whose values are
/// strings, numbers, booleans or null, with no escapes in any string. Returns false for anything
/// else (nesting, escapes, too many members, invalid JSON), which the general reader then handles,
/// errors included. `members` is cleared first and reused from call to call.
pub(crate) fn flat_object(text: &str, members: &mut Vec<FlatMember>) -> bool {
    members.clear();
    let mut p = Parser::new(text);
    p.ws();
    if p.s.get(p.at) != Some(&b'{') {
        return false;
    }
    p.at += 1;
    p.ws();
    if p.s.get(p.at) == Some(&b'}') {
        p.at += 1;
        p.ws();
        return p.at == p.s.len();
    }
    loop {
        if members.len() == MAX_FLAT_MEMBERS {
            return false;
        }
        let Some(key) = p.plain_string() else {
            return false;
        };
        p.ws();
        if p.s.get(p.at) != Some(&b':') {
            return false;
        }
        p.at += 1;
        p.ws();
        let value = match p.s.get(p.at) {
            Some(b'"') => match p.plain_string() {
                Some((a, b)) => FlatValue::Str(a, b),
                None => return false,
            },
            Some(b'-' | b'0'..=b'9') => {
                let start = p.at;
                if p.number().is_none() {
                    return false;
                }
                FlatValue::Num(start, p.at)
            }
            Some(b't') if p.s[p.at..].starts_with(b"true") => {
                p.at += 4;
                FlatValue::Bool(true)
            }
            Some(b'f') if p.s[p.at..].starts_with(b"false") => {
                p.at += 5;
                FlatValue::Bool(false)
            }
            Some(b'n') if p.s[p.at..].starts_with(b"null") => {
                p.at += 4;
                FlatValue::Null
            }
            _ => return false,
        };
        members.push(FlatMember { key, value });
        p.ws();
        match p.s.get(p.at) {
            Some(b',') => {
                p.at += 1;
                p.ws();
            }
            Some(b'}') => {
                p.at += 1;
                p.ws();
                return p.at == p.s.len();
            }
            _ => return false,
        }
    }
}

/// Nesting deeper than this is refused (JavaScript would refuse such an event too: fields nest at
/// most 32 levels, and arrays are never stored), before it can exhaust the stack.
const MAX_NESTING: usize = 128;

/// JSON as `JSON.parse` reads it (RFC 8259: no comments, no trailing commas, only space, tab and
/// line breaks between tokens), written for speed on small objects: one pass, strings borrowed
/// unless they hold escapes.
struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    at: usize,
    depth: usize,
    /// Why parsing stopped (the methods return None, which keeps their results small).
    error: &'static str,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser {
            s: text.as_bytes(),
            text,
            at: 0,
            depth: 0,
            error: "",
        }
    }

    fn message(&self, what: &str) -> String {
        format!("payload is not JSON: {what} at byte {}", self.at)
    }

    fn fail<T>(&mut self, what: &'static str) -> Option<T> {
        self.error = what;
        None
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.at) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &str, v: Json<'a>) -> Option<Json<'a>> {
        if self.s[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Some(v)
        } else {
            self.fail("unexpected character")
        }
    }

    fn value(&mut self) -> Option<Json<'a>> {
        match self.s.get(self.at) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Some(Json::Str(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.fail("unexpected character"),
            None => self.fail("unexpected end"),
        }
    }

    /// Steps into an object or array.
    fn nest(&mut self) -> Option<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.fail("nesting too deep");
        }
        self.at += 1;
        self.ws();
        Some(())
    }

    /// After a member: true at the closing `close`, false after a comma.
    fn next_member(&mut self, close: u8) -> Option<bool> {
        self.ws();
        match self.s.get(self.at) {
            Some(b',') => {
                self.at += 1;
                self.ws();
                Some(false)
            }
            Some(c) if *c == close => {
                self.at += 1;
                self.depth -= 1;
                Some(true)
            }
            _ => self.fail("expected ',' or the end of the object or array"),
        }
    }

    fn object(&mut self) -> Option<Json<'a>> {
        self.nest()?;
        let mut entries = Vec::with_capacity(8);
        if self.s.get(self.at) == Some(&b'}') {
            self.at += 1;
            self.depth -= 1;
            return Some(Json::Object(entries));
        }
        loop {
            if self.s.get(self.at) != Some(&b'"') {
                return self.fail("expected a key");
            }
            let key = self.string()?;
            self.ws();
            if self.s.get(self.at) != Some(&b':') {
                return self.fail("expected ':'");
            }
            self.at += 1;
            self.ws();
            let v = self.value()?;
            entries.push((key, v));
            if self.next_member(b'}')? {
                return Some(Json::Object(entries));
            }
        }
    }

    fn array(&mut self) -> Option<Json<'a>> {
        self.nest()?;
        if self.s.get(self.at) == Some(&b']') {
            self.at += 1;
            self.depth -= 1;
            return Some(Json::Array);
        }
        loop {
            self.value()?;
            if self.next_member(b']')? {
                return Some(Json::Array);
            }
        }
    }

    /// Steps over plain string bytes: up to the next quote, backslash or control character.
    fn plain_run(&mut self) {
        let rest = &self.s[self.at..];
        self.at += rest
            .iter()
            .position(|&c| STOPS_A_STRING[c as usize])
            .unwrap_or(rest.len());
    }

    /// A string with no escapes, as the span of its text; None for anything else.
    fn plain_string(&mut self) -> Option<(usize, usize)> {
        if self.s.get(self.at) != Some(&b'"') {
            return None;
        }
        self.at += 1;
        let start = self.at;
        self.plain_run();
        if self.s.get(self.at) != Some(&b'"') {
            return None;
        }
        self.at += 1;
        Some((start, self.at - 1))
    }

    /// A string starting at its opening quote.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.at += 1;
        let start = self.at;
        self.plain_run();
        match self.s.get(self.at) {
            Some(b'"') => {
                let v = &self.text[start..self.at];
                self.at += 1;
                return Some(Cow::Borrowed(v));
            }
            Some(b'\\') => {}
            Some(_) => return self.fail("control character in a string"),
            None => return self.fail("unterminated string"),
        }
        // It holds escapes: build it.
        let mut out = String::from(&self.text[start..self.at]);
        loop {
            match self.s.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Some(Cow::Owned(out));
                }
                Some(b'\\') => {
                    let c = self.escape()?;
                    out.push(c);
                }
                Some(c) if *c < 0x20 => return self.fail("control character in a string"),
                Some(_) => {
                    let run = self.at;
                    self.plain_run();
                    out.push_str(&self.text[run..self.at]);
                }
                None => return self.fail("unterminated string"),
            }
        }
    }

    /// One escape starting at its backslash; `at` ends after it.
    fn escape(&mut self) -> Option<char> {
        self.at += 1;
        let c = match self.s.get(self.at) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.at += 1;
                let unit = self.hex4()?;
                return Some(self.unicode(unit));
            }
            _ => return self.fail("bad escape"),
        };
        self.at += 1;
        Some(c)
    }

    /// Four hex digits at `at`; `at` ends after them.
    fn hex4(&mut self) -> Option<u32> {
        let Some(digits) = self.s.get(self.at..self.at + 4) else {
            return self.fail("bad \\u escape");
        };
        let mut v = 0u32;
        for d in digits {
            match (*d as char).to_digit(16) {
                Some(x) => v = v * 16 + x,
                None => return self.fail("bad \\u escape"),
            }
        }
        self.at += 4;
        Some(v)
    }

    /// The character of a `\uXXXX` escape (`at` after it), joining a surrogate pair. A lone
    /// surrogate becomes U+FFFD: that is what the JavaScript path sends for it, since encoding a
    /// JavaScript string as UTF-8 replaces it so.
    fn unicode(&mut self, unit: u32) -> char {
        if (0xD800..0xDC00).contains(&unit) && self.s[self.at..].starts_with(b"\\u") {
            let save = self.at;
            self.at += 2;
            if let Some(low) = self.hex4() {
                if (0xDC00..0xE000).contains(&low) {
                    let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    return char::from_u32(c).unwrap_or('\u{FFFD}');
                }
            }
            self.at = save;
        }
        char::from_u32(unit).unwrap_or('\u{FFFD}')
    }

    fn number(&mut self) -> Option<Json<'a>> {
        let start = self.at;
        let digits = |p: &mut Parser| {
            let from = p.at;
            while let Some(b'0'..=b'9') = p.s.get(p.at) {
                p.at += 1;
            }
            p.at - from
        };
        if self.s.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        match self.s.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return self.fail("bad number"),
        }
        if self.s.get(self.at) == Some(&b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return self.fail("bad number");
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.s.get(self.at) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return self.fail("bad number");
            }
        }
        Some(Json::Number(Num(&self.text[start..self.at])))
    }
}

/// The bytes that end a run of plain string text: a quote, a backslash, a control character.
static STOPS_A_STRING: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Whether JavaScript treats `key` as an array index, which `Object.keys` lists first, in
/// ascending order, before every other key.
pub(crate) fn array_index(key: &str) -> Option<u32> {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > 10 || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    if !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v: u64 = key.parse().ok()?;
    (v < u32::MAX as u64).then_some(v as u32)
}

/// The entries of an object in `Object.keys` order, after `JSON.parse`: a duplicated key keeps
/// its first position and its last value; array-index keys come first, ascending.
pub(crate) fn entries_in_js_order<'o, 'a>(
    entries: &'o [(Cow<'a, str>, Json<'a>)],
) -> Vec<&'o (Cow<'a, str>, Json<'a>)> {
    let mut out: Vec<&(Cow<str>, Json)> = Vec::with_capacity(entries.len());
    let mut has_index = false;
    // Small objects (nearly all events) look back linearly; a large one, which a hostile peer
    // can send, is indexed so that the cost stays linear in its size.
    let mut index: Option<std::collections::HashMap<&str, usize>> =
        (entries.len() > 16).then(std::collections::HashMap::new);
    for e in entries {
        let seen = match &mut index {
            Some(map) => match map.get(e.0.as_ref()) {
                Some(&slot) => Some(slot),
                None => {
                    map.insert(e.0.as_ref(), out.len());
                    None
                }
            },
            None => out.iter().position(|p| p.0 == e.0),
        };
        if let Some(slot) = seen {
            out[slot] = e;
            continue;
        }
        has_index |= array_index(&e.0).is_some();
        out.push(e);
    }
    if has_index {
        // A stable sort keeps the other keys in source order.
        out.sort_by_key(|e| match array_index(&e.0) {
            Some(n) => (0, n),
            None => (1, 0),
        });
    }
    out
}
