//! Walking Protobuf's wire format without a schema: the top-level fields of a message as
//! (number, wire type, value), read as far as the bytes are well formed. The Protobuf
//! codec walks requests with it to refuse unknown fields; the POSIX MQ transport reads
//! `reply_to` with it from a request the codec refused (so it is built without the
//! `protobuf` feature too: it needs no generated code).

/// One field of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// Field number.
    pub number: u64,
    /// Wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32; others are groups).
    pub wire_type: u64,
    /// The value; `Err` when the bytes end inside it (the walk ends there).
    pub value: Result<Value<'a>, Truncated>,
}

/// A field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire types 1 and 5: the fixed-size bytes.
    Fixed(&'a [u8]),
    /// Wire type 2: a string, bytes or an embedded message.
    Bytes(&'a [u8]),
    /// Wire types 3, 4, 6 and 7: a group (or no valid type); the walk ends there, as
    /// its length cannot be known.
    Group,
}

/// The bytes ended inside a key or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

/// The top-level fields of `bytes`, in order. A key cut short yields `Err(Truncated)`;
/// after a truncated value or a group nothing more is yielded.
pub fn fields(bytes: &[u8]) -> Fields<'_> {
    Fields {
        rest: bytes,
        done: false,
    }
}

/// The iterator of [`fields`].
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, Truncated>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let Some(key) = read_varint(&mut self.rest) else {
            self.done = true;
            return Some(Err(Truncated));
        };
        let wire_type = key & 7;
        let value = match wire_type {
            0 => read_varint(&mut self.rest)
                .map(Value::Varint)
                .ok_or(Truncated),
            1 => self.take(8).map(Value::Fixed),
            5 => self.take(4).map(Value::Fixed),
            2 => read_varint(&mut self.rest)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(Truncated)
                .and_then(|len| self.take(len))
                .map(Value::Bytes),
            _ => Ok(Value::Group),
        };
        self.done = matches!(value, Err(_) | Ok(Value::Group));
        Some(Ok(Field {
            number: key >> 3,
            wire_type,
            value,
        }))
    }
}

impl<'a> Fields<'a> {
    /// The next `len` bytes.
    fn take(&mut self, len: usize) -> Result<&'a [u8], Truncated> {
        if len > self.rest.len() {
            return Err(Truncated);
        }
        let (value, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(value)
    }
}

/// Reads a base-128 varint, advancing `bytes`; `None` when the bytes end first or it is
/// over 10 bytes.
pub fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_varints() {
        let mut b: &[u8] = &[0xac, 0x02, 0x01];
        assert_eq!(read_varint(&mut b), Some(300));
        assert_eq!(b, &[0x01]);
        let mut b: &[u8] = &[0x80];
        assert_eq!(read_varint(&mut b), None);
    }

    #[test]
    fn walks_every_wire_type_and_stops_where_the_bytes_break() {
        // 2 = "a1", 9 = varint 150, a fixed32 (5), then a field cut short.
        let bytes = [
            0x12, 2, b'a', b'1', 0x48, 0x96, 0x01, 0x2d, 1, 2, 3, 4, 0x22, 40,
        ];
        let got: Vec<_> = fields(&bytes).collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].unwrap().value, Ok(Value::Bytes(b"a1")));
        assert_eq!(got[1].unwrap().value, Ok(Value::Varint(150)));
        assert_eq!(got[2].unwrap().value, Ok(Value::Fixed(&[1, 2, 3, 4])));
        assert_eq!(
            (got[3].unwrap().number, got[3].unwrap().value),
            (4, Err(Truncated))
        );
        assert_eq!(fields(&[0x80]).collect::<Vec<_>>(), [Err(Truncated)]);
        let group: Vec<_> = fields(&[0x0b, 0x08, 0x01]).collect();
        assert_eq!(group.len(), 1);
        assert_eq!(group[0].unwrap().value, Ok(Value::Group));
    }
}
