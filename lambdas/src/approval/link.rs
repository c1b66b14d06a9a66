//! The approve / deny links' token: what it names, signed with HMAC-SHA256, and why one is
//! refused.
//!
//! A token is `<claims>.<signature>`, both base64url without padding: the claims are compact
//! JSON (incident, its start, the approval's id, the decision, the expiry in epoch seconds),
//! the signature is the HMAC-SHA256 of the claims' text under the stack's signing key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use platform_contract::approval::Decision;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a link's token names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The incident.
    #[serde(rename = "i")]
    pub incident_id: String,
    /// Its start: with the id, the record's key.
    #[serde(rename = "s")]
    pub starts_at: String,
    /// The approval request it answers (one per request).
    #[serde(rename = "a")]
    pub approval_id: String,
    /// What the link decides.
    #[serde(rename = "d")]
    pub decision: Decision,
    /// Epoch seconds after which it is refused.
    #[serde(rename = "e")]
    pub expires_at: i64,
}

/// Why a token is refused, each with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a token at all.
    #[error("the link's token is malformed: {0}")]
    Malformed(String),
    /// The signature does not match: made or changed by someone without the key.
    #[error("the link's token is not signed by this platform (forged or altered)")]
    Forged,
    /// Signed for another incident than the one in the link's path.
    #[error("the link's token was issued for incident {issued_for}, not {presented}")]
    WrongIncident {
        /// The token's incident.
        issued_for: String,
        /// The path's incident.
        presented: String,
    },
    /// Past its expiry.
    #[error("the link expired at {0}: the runbook stopped waiting and escalated the incident")]
    Expired(String),
    /// Already used, or the approval it answers is no longer the pending one.
    #[error("{0}")]
    Replayed(String),
}

impl Refusal {
    /// The HTTP status people get.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Malformed(_) => 400,
            Refusal::Forged | Refusal::WrongIncident { .. } => 403,
            Refusal::Replayed(_) => 409,
            Refusal::Expired(_) => 410,
        }
    }
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: new_from_slice cannot fail for it.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// The token of `claims` under `key`.
pub fn sign(key: &[u8], claims: &Claims) -> String {
    let text = serde_json::to_vec(claims).unwrap_or_default();
    let payload = URL_SAFE_NO_PAD.encode(text);
    let mut m = mac(key);
    m.update(payload.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{payload}.{signature}")
}

/// The claims of `token` if `key` signed it, it names `incident_id` and it has not expired at
/// `now` (epoch seconds). The signature is compared in constant time.
pub fn verify(key: &[u8], token: &str, incident_id: &str, now: i64) -> Result<Claims, Refusal> {
    let (payload, signature) = token
        .split_once('.')
        .ok_or_else(|| Refusal::Malformed("no signature part".into()))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Refusal::Malformed("the signature is not base64url".into()))?;
    let mut m = mac(key);
    m.update(payload.as_bytes());
    m.verify_slice(&signature).map_err(|_| Refusal::Forged)?;
    let text = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| Refusal::Malformed("the claims are not base64url".into()))?;
    let claims: Claims = serde_json::from_slice(&text)
        .map_err(|e| Refusal::Malformed(format!("the claims do not parse: {e}")))?;
    if claims.incident_id != incident_id {
        return Err(Refusal::WrongIncident {
            issued_for: claims.incident_id,
            presented: incident_id.to_owned(),
        });
    }
    if now > claims.expires_at {
        return Err(Refusal::Expired(rfc3339(claims.expires_at)));
    }
    Ok(claims)
}

/// Epoch seconds as RFC 3339 (UTC).
pub fn rfc3339(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| epoch.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            incident_id: "am-1".into(),
            starts_at: "2026-01-05T10:00:00Z".into(),
            approval_id: "ap-1".into(),
            decision: Decision::Approve,
            expires_at: 1_000,
        }
    }

    #[test]
    fn a_signed_token_verifies_and_every_alteration_is_refused() {
        let token = sign(b"key", &claims());
        assert_eq!(verify(b"key", &token, "am-1", 999), Ok(claims()));
        assert_eq!(verify(b"other", &token, "am-1", 999), Err(Refusal::Forged));
        // The claims changed to deny, the signature kept: forged.
        let (_, sig) = token.split_once('.').unwrap();
        let mut deny = claims();
        deny.decision = Decision::Deny;
        let altered = format!(
            "{}.{sig}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&deny).unwrap())
        );
        assert_eq!(verify(b"key", &altered, "am-1", 999), Err(Refusal::Forged));
        let wrong = verify(b"key", &token, "am-2", 999).unwrap_err();
        assert_eq!(wrong.status(), 403);
        assert!(
            wrong
                .to_string()
                .contains("issued for incident am-1, not am-2")
        );
        let expired = verify(b"key", &token, "am-1", 1_001).unwrap_err();
        assert_eq!(expired.status(), 410);
        assert!(expired.to_string().contains("1970-01-01T00:16:40Z"));
        for bad in ["", "abc", "abc.!!!", "!!!.abc"] {
            let e = verify(b"key", bad, "am-1", 0).unwrap_err();
            assert!(
                matches!(e, Refusal::Malformed(_) | Refusal::Forged),
                "{bad}: {e:?}"
            );
            assert!((400..500).contains(&e.status()));
        }
    }
}
