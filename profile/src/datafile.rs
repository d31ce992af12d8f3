//! Shared plumbing for the TOML data files of `profile/` (catalog, policies, application forms):
//! one error type that names the file, the line and the field, in one line.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A data file could not be read, parsed or validated.
#[derive(Debug, thiserror::Error)]
pub enum DataFileError {
    #[error("{file}: cannot read: {message}")]
    Unreadable { file: PathBuf, message: String },
    #[error("{file}:{line}: field `{field}`: {message}")]
    Invalid {
        file: PathBuf,
        line: usize,
        field: String,
        message: String,
    },
}

impl DataFileError {
    /// The line the error points at (1-based), when it points at one.
    pub fn line(&self) -> Option<usize> {
        match self {
            DataFileError::Invalid { line, .. } => Some(*line),
            DataFileError::Unreadable { .. } => None,
        }
    }

    /// The dotted path of the field the error is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            DataFileError::Invalid { field, .. } => Some(field),
            DataFileError::Unreadable { .. } => None,
        }
    }
}

/// The text of a data file with its name, for parsing and for pointing at lines.
pub(crate) struct Source<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl<'a> Source<'a> {
    pub fn read(file: &Path) -> Result<String, DataFileError> {
        std::fs::read_to_string(file).map_err(|e| DataFileError::Unreadable {
            file: file.to_owned(),
            message: e.to_string(),
        })
    }

    /// Parses the whole file; a syntax or shape error names its line and field.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, DataFileError> {
        toml::from_str(self.text).map_err(|e| {
            let offset = e.span().map_or(0, |span| span.start);
            let line = line_of(self.text, offset);
            let mut field = field_at(self.text, line);
            let message = e.message().trim().replace('\n', " ");
            if let Some(missing) = backticked(&message, "missing field `") {
                field = join(&field, missing);
            } else if let Some(unknown) = backticked(&message, "unknown field `")
                && !field.ends_with(unknown)
            {
                field = join(&field, unknown);
            }
            self.error(line, field, message)
        })
    }

    pub fn error(&self, line: usize, field: String, message: String) -> DataFileError {
        DataFileError::Invalid {
            file: self.file.to_owned(),
            line,
            field,
            message,
        }
    }

    /// An error about `table.key`, pointing at the line that sets it (or the table header,
    /// or line 1 when neither is in the file).
    pub fn invalid(&self, table: &str, key: &str, message: impl Into<String>) -> DataFileError {
        let line = self.line_of_key(table, key);
        self.error(line, join(table, key), message.into())
    }

    fn line_of_key(&self, table: &str, key: &str) -> usize {
        let mut current = String::new();
        let mut table_line = None;
        for (index, raw) in self.text.lines().enumerate() {
            let line = raw.trim();
            if let Some(header) = table_header(line) {
                current = header.to_owned();
                if current == table {
                    table_line = Some(index + 1);
                }
                continue;
            }
            if current == table && key_of(line) == Some(key) {
                return index + 1;
            }
        }
        table_line.unwrap_or(1)
    }
}

fn join(table: &str, key: &str) -> String {
    match (table.is_empty(), key.is_empty()) {
        (true, _) => key.to_owned(),
        (_, true) => table.to_owned(),
        _ => format!("{table}.{key}"),
    }
}

fn backticked<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let start = message.find(prefix)? + prefix.len();
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn table_header(line: &str) -> Option<&str> {
    let inner = line.strip_prefix("[[").and_then(|l| l.split("]]").next());
    let inner = inner.or_else(|| line.strip_prefix('[').and_then(|l| l.split(']').next()));
    inner.map(str::trim)
}

fn key_of(line: &str) -> Option<&str> {
    if line.starts_with('#') {
        return None;
    }
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.contains(' ')).then_some(key)
}

/// The dotted field a line belongs to: its enclosing table and the key it sets.
fn field_at(text: &str, line: usize) -> String {
    let mut table = String::new();
    let mut key = None;
    for (index, raw) in text.lines().enumerate().take(line) {
        let trimmed = raw.trim();
        if let Some(header) = table_header(trimmed) {
            table = header.to_owned();
            key = None;
        } else if index + 1 == line {
            key = key_of(trimmed);
        }
    }
    join(&table, key.unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named_from_tables_and_keys() {
        let text = "top = 1\n[rules]\n# note\na = { value = 1 }\n[[list]]\nname = \"x\"\n";
        assert_eq!(field_at(text, 1), "top");
        assert_eq!(field_at(text, 2), "rules");
        assert_eq!(field_at(text, 4), "rules.a");
        assert_eq!(field_at(text, 6), "list.name");
        let source = Source {
            file: Path::new("p.toml"),
            text,
        };
        assert_eq!(source.line_of_key("rules", "a"), 4);
        assert_eq!(source.line_of_key("rules", "missing"), 2);
    }
}
