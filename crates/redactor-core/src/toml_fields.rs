//! The fields a TOML table may hold, checked before serde turns the table
//! into a struct, and where a text's fields are.
//!
//! serde stops at the first problem and names a wrong type without its
//! field (`invalid type: string "2", expected usize`). [`problems`] reports
//! every missing, unknown or mistyped field of a table, each by name, so the
//! policy and the Kafka stage's configuration list them all at once;
//! [`Located`] gives the lines their problems name.

use std::ops::Range;

use toml::Spanned;

/// A TOML text's top-level fields, with where each one is.
///
/// serde's `Spanned` refuses a table that a dotted key or a dotted header
/// makes (`detectors.email = "off"`, `[detectors.email]` without
/// `[detectors]`: "invalid type: string, expected a borrowed string"), so
/// the spans come from the parser's own document instead.
#[derive(Debug)]
pub struct Located<'a> {
    /// The text's top-level fields.
    pub table: toml::Table,
    doc: toml_edit::ImDocument<&'a str>,
}

/// The first syntax error of a TOML text.
#[derive(Debug)]
pub struct SyntaxError {
    /// What is wrong.
    pub message: String,
    /// Where, in bytes of the text.
    pub span: Option<Range<usize>>,
}

impl<'a> Located<'a> {
    /// Parses `text`.
    ///
    /// # Errors
    ///
    /// The first syntax error.
    pub fn parse(text: &'a str) -> Result<Located<'a>, SyntaxError> {
        // The parser's messages may take several lines; a problem takes one.
        let one_line = |m: &str| {
            let parts: Vec<&str> = m.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            parts.join(": ")
        };
        let doc = toml_edit::ImDocument::parse(text).map_err(|e| SyntaxError {
            message: one_line(e.message()),
            span: e.span(),
        })?;
        let table = toml::from_str(text).map_err(|e: toml::de::Error| SyntaxError {
            message: one_line(e.message()),
            span: e.span(),
        })?;
        Ok(Located { table, doc })
    }

    /// Where top-level field `key` is named (for a table, its header or the
    /// first dotted key that makes it).
    pub fn span(&self, key: &str) -> Option<Range<usize>> {
        self.doc.key(key).and_then(toml_edit::Key::span)
    }

    /// Top-level field `key`, spanning where it is named (0..0 when that is
    /// unknown).
    pub fn field(&self, key: &str) -> Option<Spanned<toml::Value>> {
        let v = self.table.get(key)?;
        Some(Spanned::new(self.span(key).unwrap_or(0..0), v.clone()))
    }

    /// The items of top-level list `key` (a `[[key]]` array of tables, or
    /// an inline list), each spanning where it is, or `None` when `key` is
    /// absent or not a list.
    pub fn items(&self, key: &str) -> Option<Vec<Spanned<toml::Value>>> {
        let values = self.table.get(key)?.as_array()?;
        let whole = self.span(key).unwrap_or(0..0);
        let item = self.doc.get(key);
        let span = |i: usize| {
            let at = match item {
                Some(toml_edit::Item::ArrayOfTables(a)) => a.get(i).and_then(|t| t.span()),
                Some(toml_edit::Item::Value(toml_edit::Value::Array(a))) => {
                    a.get(i).and_then(|v| v.span())
                }
                _ => None,
            };
            at.unwrap_or_else(|| whole.clone())
        };
        Some(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| Spanned::new(span(i), v.clone()))
                .collect(),
        )
    }
}

/// The line (from 1) that byte `at` of `text` is on.
pub fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Where the entry `name = ...` of the table whose text is `text[table]`
/// starts, so that a problem with it names its own line: `name`, bare or
/// quoted, at the start of a line or after `{` or `,`, then `=`. The
/// table's start when it is not found (a name written with escapes).
/// `table` is the span the parser gives the table: a `[table]` header's
/// name, or an inline table whole.
pub fn entry_span(text: &str, table: std::ops::Range<usize>, name: &str) -> std::ops::Range<usize> {
    // The span of a `[table]` is its header's name alone: its entries run
    // to the next header.
    let end = table.end.min(text.len());
    let end = text
        .get(end..)
        .and_then(|rest| rest.find("\n["))
        .map_or(text.len(), |i| end + i);
    let Some(body) = text.get(table.start..end) else {
        return table;
    };
    let b = body.as_bytes();
    for (at, _) in body.match_indices(name) {
        let quoted = at > 0 && b[at - 1] == b'"' && b.get(at + name.len()) == Some(&b'"');
        let (start, after) = if quoted {
            (at - 1, at + name.len() + 1)
        } else {
            (at, at + name.len())
        };
        let opens = b[..start]
            .iter()
            .rev()
            .find(|c| !matches!(c, b' ' | b'\t'))
            .is_none_or(|c| matches!(c, b'\n' | b'{' | b','));
        let assigned = b[after..]
            .iter()
            .find(|c| !matches!(c, b' ' | b'\t'))
            .is_some_and(|&c| c == b'=');
        if opens && assigned {
            return table.start + start..table.start + after;
        }
    }
    table
}

/// What a field must hold.
#[derive(Clone, Copy, Debug)]
pub enum FieldType {
    /// A string.
    Text,
    /// An integer.
    Integer,
    /// An integer of at least 0.
    Count,
    /// `true` or `false`.
    Boolean,
    /// A list of strings.
    Texts,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// A table whose values are strings.
    TextTable,
    /// A table; its own fields are checked apart.
    Table,
    /// A list of tables; their own fields are checked apart.
    Tables,
    /// Anything; checked by whoever takes it.
    Any,
}

/// A table's fields: name and type.
pub type Fields = [(&'static str, FieldType)];

impl FieldType {
    fn accepts(self, v: &toml::Value) -> bool {
        match self {
            FieldType::Text => v.is_str(),
            FieldType::Integer => v.is_integer(),
            FieldType::Count => v.as_integer().is_some_and(|i| i >= 0),
            FieldType::Boolean => v.is_bool(),
            FieldType::Texts => v
                .as_array()
                .is_some_and(|a| a.iter().all(toml::Value::is_str)),
            FieldType::OneOf(names) => v.as_str().is_some_and(|s| names.contains(&s)),
            FieldType::TextTable => v
                .as_table()
                .is_some_and(|t| t.values().all(toml::Value::is_str)),
            FieldType::Table => v.is_table(),
            FieldType::Tables => v
                .as_array()
                .is_some_and(|a| a.iter().all(toml::Value::is_table)),
            FieldType::Any => true,
        }
    }

    fn describe(self) -> String {
        match self {
            FieldType::Text => "a string".into(),
            FieldType::Integer => "an integer".into(),
            FieldType::Count => "an integer of at least 0".into(),
            FieldType::Boolean => "true or false".into(),
            FieldType::Texts => "a list of strings".into(),
            FieldType::OneOf(names) => {
                let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
                format!("one of {}", quoted.join(", "))
            }
            FieldType::TextTable => "a table of strings".into(),
            FieldType::Table => "a table".into(),
            FieldType::Tables => "a list of tables".into(),
            FieldType::Any => "a value".into(),
        }
    }
}

/// The names of `fields`, comma-separated, for a problem's hint.
pub fn names(fields: &Fields) -> String {
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    names.join(", ")
}

/// What kind of value `v` is, with its article: `a string`, `a table`.
pub fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
    }
}

/// Every problem of table `t`: each `required` field that is absent, each
/// field of the wrong type, and each field none of `fields` names (the
/// problem ends with `listed()` in brackets, which names what may be there).
/// Field values are never quoted, except a string that none of a
/// [`FieldType::OneOf`] names.
pub fn problems(
    t: &toml::Table,
    required: &[&str],
    fields: &[&Fields],
    listed: impl Fn() -> String,
) -> Vec<String> {
    let mut problems: Vec<String> = required
        .iter()
        .filter(|f| !t.contains_key(**f))
        .map(|f| format!("missing field `{f}`"))
        .collect();
    for (k, v) in t {
        match fields.iter().flat_map(|f| f.iter()).find(|(n, _)| n == k) {
            Some((_, ty)) if !ty.accepts(v) => problems.push(format!(
                "`{k}` must be {} (got {})",
                ty.describe(),
                got(*ty, v)
            )),
            Some(_) => {}
            None => problems.push(format!("unknown field `{k}` ({})", listed())),
        }
    }
    problems
}

/// What `v` is, told so that it says why `ty` refuses it.
fn got(ty: FieldType, v: &toml::Value) -> String {
    fn odd_item<'a>(
        mut items: impl Iterator<Item = &'a toml::Value>,
        fits: fn(&toml::Value) -> bool,
    ) -> Option<&'static str> {
        items.find(|x| !fits(x)).map(type_name)
    }
    let inner = match (ty, v) {
        (FieldType::Texts, toml::Value::Array(a)) => odd_item(a.iter(), toml::Value::is_str),
        (FieldType::Tables, toml::Value::Array(a)) => odd_item(a.iter(), toml::Value::is_table),
        (FieldType::TextTable, toml::Value::Table(t)) => odd_item(t.values(), toml::Value::is_str),
        (FieldType::Count, toml::Value::Integer(_)) => return "a negative integer".into(),
        (FieldType::OneOf(_), toml::Value::String(s)) => return format!("{s:?}"),
        _ => None,
    };
    match inner {
        Some(item) => format!("{} holding {item}", type_name(v)),
        None => type_name(v).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &Fields = &[
        ("name", FieldType::Text),
        ("n", FieldType::Integer),
        ("count", FieldType::Count),
        ("on", FieldType::Boolean),
        ("list", FieldType::Texts),
        ("mode", FieldType::OneOf(&["a", "b"])),
        ("map", FieldType::TextTable),
        ("sub", FieldType::Table),
        ("subs", FieldType::Tables),
        ("any", FieldType::Any),
    ];

    fn check(text: &str) -> Vec<String> {
        let t: toml::Table = toml::from_str(text).unwrap();
        problems(&t, &["name"], &[FIELDS], || {
            format!("fields: {}", names(FIELDS))
        })
    }

    #[test]
    fn values_of_their_type_pass() {
        let ok = "name = \"x\"\nn = -1\ncount = 0\non = false\nlist = []\nmode = \"b\"\n\
                  map = { k = \"v\" }\nsub = { k = 1 }\nsubs = [{ k = 1 }]\nany = 1.5\n";
        assert_eq!(check(ok), Vec::<String>::new());
    }

    #[test]
    fn each_problem_names_its_field_and_what_it_got() {
        let bad = "n = 1.5\ncount = -1\non = \"yes\"\nlist = [\"a\", true]\nmode = \"c\"\n\
                   map = { k = [] }\nsub = 1\nsubs = [{}, 2]\nany = {}\nnmae = 1\n";
        assert_eq!(
            check(bad),
            [
                "missing field `name`",
                "`count` must be an integer of at least 0 (got a negative integer)",
                "`list` must be a list of strings (got a list holding a boolean)",
                "`map` must be a table of strings (got a table holding a list)",
                "`mode` must be one of \"a\", \"b\" (got \"c\")",
                "`n` must be an integer (got a float)",
                "unknown field `nmae` (fields: name, n, count, on, list, mode, map, sub, subs, any)",
                "`on` must be true or false (got a string)",
                "`sub` must be a table (got an integer)",
                "`subs` must be a list of tables (got a list holding an integer)",
            ]
        );
        assert_eq!(
            check("name = 1\nmode = 2\n"),
            [
                "`mode` must be one of \"a\", \"b\" (got an integer)",
                "`name` must be a string (got an integer)",
            ]
        );
    }
}
