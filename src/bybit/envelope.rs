//! The Bybit v5 response envelope (`retCode`, `retMsg`, `result`), read once for every
//! client (market data and risk limits).

use serde_json::Value;

/// `retCode`s Bybit documents as "too many visits" / rate limits: worth a retry.
pub const RETRY_CODES: [i64; 2] = [10006, 10016];

/// What an envelope says.
#[derive(Debug, PartialEq)]
pub enum Envelope {
    /// `retCode` 0: the `result` object.
    Ok(Value),
    /// A non-zero `retCode` with its `retMsg`; `retry` for [`RETRY_CODES`].
    Api {
        /// `retCode`.
        code: i64,
        /// `retMsg`.
        msg: String,
        /// True when the code is a rate limit.
        retry: bool,
    },
    /// Not an envelope (the reason).
    Malformed(String),
}

/// Reads the envelope of a response body.
pub fn read(body: &str) -> Envelope {
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => return Envelope::Malformed(format!("invalid JSON: {e}")),
    };
    let Some(code) = v.get("retCode").and_then(Value::as_i64) else {
        return Envelope::Malformed("no numeric retCode".into());
    };
    if code != 0 {
        let msg = v.get("retMsg").and_then(Value::as_str).unwrap_or_default().to_string();
        return Envelope::Api { code, msg, retry: RETRY_CODES.contains(&code) };
    }
    match v.get("result") {
        Some(r) if r.is_object() => Envelope::Ok(r.clone()),
        _ => Envelope::Malformed("no result object".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_gives_the_result_the_api_error_or_why_it_is_not_one() {
        assert_eq!(
            read(r#"{"retCode":0,"retMsg":"OK","result":{"list":[]}}"#),
            Envelope::Ok(serde_json::json!({"list": []}))
        );
        assert_eq!(
            read(r#"{"retCode":10006,"retMsg":"Too many visits!"}"#),
            Envelope::Api { code: 10006, msg: "Too many visits!".into(), retry: true }
        );
        assert_eq!(
            read(r#"{"retCode":10001,"retMsg":"params error"}"#),
            Envelope::Api { code: 10001, msg: "params error".into(), retry: false }
        );
        assert_eq!(read(r#"{"retCode":0}"#), Envelope::Malformed("no result object".into()));
        assert_eq!(read(r#"{"x":1}"#), Envelope::Malformed("no numeric retCode".into()));
        assert!(matches!(read("<html>"), Envelope::Malformed(m) if m.starts_with("invalid JSON")));
    }
}
