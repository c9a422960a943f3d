//! Compact JSON encodings of bulk numbers, for values that travel inside invocation payloads or
//! as JSON objects in a store: the little-endian bytes of the numbers in base64 (standard
//! alphabet, padded). A `Vec<f32>` of a million values is 5.3 MB this way, against about 10 MB
//! as a JSON array, and decodes at memory speed.
//!
//! Use with serde's `with`: `#[serde(with = "crate::kit::wire::f32s")]`. Decoding checks the
//! length (a whole number of values) and never allocates more than the text it was given.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

fn encode<S: Serializer, T: Copy, const N: usize>(
    values: &[T],
    to_le: fn(T) -> [u8; N],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut bytes = Vec::with_capacity(values.len() * N);
    for &v in values {
        bytes.extend_from_slice(&to_le(v));
    }
    serializer.serialize_str(&STANDARD.encode(bytes))
}

fn decode<'de, D: Deserializer<'de>, T, const N: usize>(
    deserializer: D,
    from_le: fn([u8; N]) -> T,
    what: &str,
) -> Result<Vec<T>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    let bytes = STANDARD
        .decode(text.as_bytes())
        .map_err(|e| D::Error::custom(format!("{what}: not base64 ({e})")))?;
    if bytes.len() % N != 0 {
        return Err(D::Error::custom(format!(
            "{what}: {} bytes is not a whole number of {N}-byte values",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            from_le(a)
        })
        .collect())
}

/// `Vec<f32>` as base64 of little-endian bytes.
pub mod f32s {
    use super::*;

    /// Encodes.
    pub fn serialize<S: Serializer>(values: &[f32], s: S) -> Result<S::Ok, S::Error> {
        encode(values, f32::to_le_bytes, s)
    }

    /// Decodes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        decode(d, f32::from_le_bytes, "f32 values")
    }
}

/// `Vec<f64>` as base64 of little-endian bytes.
pub mod f64s {
    use super::*;

    /// Encodes.
    pub fn serialize<S: Serializer>(values: &[f64], s: S) -> Result<S::Ok, S::Error> {
        encode(values, f64::to_le_bytes, s)
    }

    /// Decodes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        decode(d, f64::from_le_bytes, "f64 values")
    }
}

/// `Vec<u8>` as base64.
pub mod bytes {
    use super::*;

    /// Encodes.
    pub fn serialize<S: Serializer>(values: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(values))
    }

    /// Decodes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        decode(d, |[b]: [u8; 1]| b, "bytes")
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Bulk {
        #[serde(with = "super::f32s")]
        a: Vec<f32>,
        #[serde(with = "super::f64s")]
        b: Vec<f64>,
        #[serde(with = "super::bytes")]
        c: Vec<u8>,
    }

    #[test]
    fn values_round_trip_bit_for_bit() {
        let bulk = Bulk {
            a: vec![1.5, -0.0, f32::MIN_POSITIVE, f32::NAN.copysign(1.0)],
            b: vec![0.1, 1e300],
            c: vec![0, 1, 255],
        };
        let json = serde_json::to_string(&bulk).unwrap();
        let back: Bulk = serde_json::from_str(&json).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back.a), bits(&bulk.a));
        assert_eq!((back.b, back.c), (bulk.b, bulk.c));
        let empty: Bulk = serde_json::from_str(r#"{"a":"","b":"","c":""}"#).unwrap();
        assert!(empty.a.is_empty());
    }

    #[test]
    fn bad_text_is_an_error_naming_the_problem() {
        let err = serde_json::from_str::<Bulk>(r#"{"a":"AAA","b":"","c":""}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("base64") || err.contains("whole number"),
            "{err}"
        );
        // 3 bytes: not a whole number of f32s.
        let err = serde_json::from_str::<Bulk>(r#"{"a":"AAAA","b":"","c":""}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("whole number of 4-byte values"), "{err}");
        let err = serde_json::from_str::<Bulk>(r#"{"a":"!!!!","b":"","c":""}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not base64"), "{err}");
    }
}
