//! Output of consumed messages: kcat's `-f` format strings, the `-J` JSON
//! envelope, and the escapes (`\n`, `\t`, `\xHH`, …) of `-f`, `-D` and `-K`.

use kafka_sync::consumer::TimestampType;
use kafka_sync::Message;
use serde_json::{json, Map, Value};

use crate::error::{CliError, CliResult};

/// One piece of a `-f` format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Literal(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    KeyLen,
    Value,
    ValueLen,
    ValueLenBinary,
    Timestamp,
    Headers,
}

/// How messages are written to stdout.
#[derive(Debug, Clone)]
pub enum Output {
    /// A `-f` format (or the default, `%s` then the message delimiter).
    Format {
        tokens: Vec<Token>,
        /// `-Z`: null keys and values print as `NULL`.
        null_as_text: bool,
    },
    /// `-J`: one JSON object per line.
    Json,
}

impl Output {
    /// A `-f` format string (escapes already in it are decoded here).
    pub fn format(format: &str, null_as_text: bool) -> CliResult<Output> {
        Ok(Output::Format {
            tokens: parse_format(format)?,
            null_as_text,
        })
    }

    /// kcat's default output: `[key<K>]value<D>`.
    pub fn default_for(key_delim: Option<&[u8]>, delim: &[u8], null_as_text: bool) -> Output {
        let mut tokens = Vec::new();
        if let Some(k) = key_delim {
            tokens.push(Token::Key);
            tokens.push(Token::Literal(k.to_vec()));
        }
        tokens.push(Token::Value);
        tokens.push(Token::Literal(delim.to_vec()));
        Output::Format {
            tokens,
            null_as_text,
        }
    }

    /// Appends `m` to `out`.
    pub fn render(&self, m: &Message, out: &mut Vec<u8>) {
        match self {
            Output::Json => {
                let v = json_envelope(m);
                out.extend_from_slice(v.to_string().as_bytes());
                out.push(b'\n');
            }
            Output::Format {
                tokens,
                null_as_text,
            } => {
                for t in tokens {
                    render_token(t, m, *null_as_text, out);
                }
            }
        }
    }
}

fn render_token(t: &Token, m: &Message, null_as_text: bool, out: &mut Vec<u8>) {
    let null = |out: &mut Vec<u8>| {
        if null_as_text {
            out.extend_from_slice(b"NULL");
        }
    };
    match t {
        Token::Literal(b) => out.extend_from_slice(b),
        Token::Topic => out.extend_from_slice(m.topic().as_bytes()),
        Token::Partition => out.extend_from_slice(m.partition().to_string().as_bytes()),
        Token::Offset => out.extend_from_slice(m.offset().to_string().as_bytes()),
        Token::Key if m.key().is_none() => null(out),
        Token::Key => out.extend_from_slice(m.key_bytes()),
        Token::Value if m.value().is_none() => null(out),
        Token::Value => out.extend_from_slice(m.value_bytes()),
        Token::KeyLen => out.extend_from_slice(len_of(m.key().is_none(), m.key_bytes()).as_bytes()),
        Token::ValueLen => {
            out.extend_from_slice(len_of(m.value().is_none(), m.value_bytes()).as_bytes())
        }
        Token::ValueLenBinary => {
            let n: i32 = if m.value().is_none() {
                -1
            } else {
                m.value_bytes().len() as i32
            };
            out.extend_from_slice(&n.to_be_bytes());
        }
        Token::Timestamp => out.extend_from_slice(m.timestamp().to_string().as_bytes()),
        Token::Headers => {
            for (i, h) in m.headers().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(h.key().as_bytes());
                out.push(b'=');
                match h.value() {
                    Some(v) => out.extend_from_slice(v),
                    None => null(out),
                }
            }
        }
    }
}

fn len_of(is_null: bool, bytes: &[u8]) -> String {
    if is_null {
        "-1".into()
    } else {
        bytes.len().to_string()
    }
}

/// kcat's JSON envelope of a message. Keys, values and header values are
/// JSON strings when they are UTF-8; bytes that are not are written as
/// base64 in `key_base64` / `payload_base64` (the string field is then
/// `null`), so nothing is lost.
pub fn json_envelope(m: &Message) -> Value {
    let mut o = Map::new();
    o.insert("topic".into(), json!(m.topic()));
    o.insert("partition".into(), json!(m.partition()));
    o.insert("offset".into(), json!(m.offset()));
    let tstype = match m.timestamp_type() {
        TimestampType::CreateTime => "create",
        TimestampType::LogAppendTime => "logappend",
        _ => "none",
    };
    o.insert("tstype".into(), json!(tstype));
    o.insert("ts".into(), json!(m.timestamp()));
    let mut headers = Vec::new();
    for h in m.headers() {
        headers.push(json!(&*h.key()));
        headers.push(match h.value() {
            None => Value::Null,
            Some(v) => json!(String::from_utf8_lossy(v)),
        });
    }
    o.insert("headers".into(), Value::Array(headers));
    bytes_field(&mut o, "key", m.key().is_none(), m.key_bytes());
    bytes_field(&mut o, "payload", m.value().is_none(), m.value_bytes());
    Value::Object(o)
}

fn bytes_field(o: &mut Map<String, Value>, name: &str, is_null: bool, bytes: &[u8]) {
    if is_null {
        o.insert(name.into(), Value::Null);
        return;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            o.insert(name.into(), json!(s));
        }
        Err(_) => {
            o.insert(name.into(), Value::Null);
            o.insert(format!("{name}_base64"), json!(base64(bytes)));
        }
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        s.push(A[(n >> 18) as usize & 63] as char);
        s.push(A[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if c.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    s
}

fn parse_format(format: &str) -> CliResult<Vec<Token>> {
    let bytes = unescape(format)?;
    let mut tokens = Vec::new();
    let mut lit = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            lit.push(bytes[i]);
            i += 1;
            continue;
        }
        let Some(&c) = bytes.get(i + 1) else {
            return Err(CliError::usage(
                "-f: the format ends in a lone `%`; write %% for a percent sign",
            ));
        };
        i += 2;
        let t = match c {
            b'%' => {
                lit.push(b'%');
                continue;
            }
            b't' => Token::Topic,
            b'p' => Token::Partition,
            b'o' => Token::Offset,
            b'k' => Token::Key,
            b'K' => Token::KeyLen,
            b's' => Token::Value,
            b'S' => Token::ValueLen,
            b'R' => Token::ValueLenBinary,
            b'T' => Token::Timestamp,
            b'h' => Token::Headers,
            other => {
                return Err(CliError::usage(format!(
                    "-f: unknown token `%{}`; use %t %p %o %k %K %s %S %R %T %h or %%",
                    other as char
                )))
            }
        };
        if !lit.is_empty() {
            tokens.push(Token::Literal(std::mem::take(&mut lit)));
        }
        tokens.push(t);
    }
    if !lit.is_empty() {
        tokens.push(Token::Literal(lit));
    }
    Ok(tokens)
}

/// Decodes `\n \r \t \0 \\ \xHH` in a flag's value (kcat's escapes).
pub fn unescape(s: &str) -> CliResult<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 == b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        match c {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(v) = hex else {
                    return Err(CliError::usage(format!(
                        "`{s}`: \\x needs two hex digits, e.g. \\x1f"
                    )));
                };
                out.push(v);
                i += 2;
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode() {
        assert_eq!(unescape(r"a\tb\n\x41\\").unwrap(), b"a\tb\nA\\");
        assert!(unescape(r"\xZZ").is_err());
        assert_eq!(unescape(r"\q").unwrap(), b"\\q");
    }

    #[test]
    fn formats_parse_and_reject_unknown_tokens() {
        let t = parse_format("%t/%p@%o %%\\n").unwrap();
        assert_eq!(t[0], Token::Topic);
        assert_eq!(t.last(), Some(&Token::Literal(b" %\n".to_vec())));
        assert!(parse_format("%q").unwrap_err().message.contains("%t"));
        assert!(parse_format("abc%").is_err());
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"\xff"), "/w==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }
}
