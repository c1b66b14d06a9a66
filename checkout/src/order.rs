//! The order a client sends, its validation, and the confirmation the service answers.

use serde::{Deserialize, Serialize};

/// Currencies the service accepts.
pub const CURRENCIES: [&str; 3] = ["EUR", "GBP", "USD"];
/// Most line items in one order.
pub const MAX_ITEMS: usize = 100;
/// Largest quantity of one line item.
pub const MAX_QUANTITY: u32 = 1_000;

/// The demo catalog: SKU and unit price in minor units (cents).
pub const CATALOG: [(&str, u64); 5] = [
    ("SKU-1001", 1_299),
    ("SKU-1002", 2_499),
    ("SKU-1003", 499),
    ("SKU-1004", 8_900),
    ("SKU-1005", 15_000),
];

/// `POST /checkout` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// The line items, at least one.
    pub items: Vec<LineItem>,
    /// ISO 4217 code, one of [`CURRENCIES`].
    pub currency: String,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineItem {
    /// A SKU from [`CATALOG`].
    pub sku: String,
    /// How many, 1 to [`MAX_QUANTITY`].
    pub quantity: u32,
}

/// A rejected order: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invalid {
    /// Path of the offending field, e.g. `items[0].quantity` (`.` for the body itself).
    pub field: String,
    /// Human-readable message that starts with the field.
    pub error: String,
}

impl Invalid {
    pub(crate) fn new(field: impl Into<String>, why: impl std::fmt::Display) -> Self {
        let field = field.into();
        Self {
            error: format!("{field}: {why}"),
            field,
        }
    }
}

/// The answer to a valid order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// A fresh id for the order.
    pub order_id: String,
    /// Always `confirmed`.
    pub status: String,
    /// The order's currency.
    pub currency: String,
    /// Total in minor units (cents).
    pub total_minor: u64,
    /// Total as a decimal string, e.g. `25.98`.
    pub total: String,
    /// Suggested SKUs; empty in degraded mode (the optional work is skipped).
    pub recommendations: Vec<String>,
    /// Whether degraded mode was on.
    pub degraded: bool,
}

/// Parses and validates a request body. The error names the field.
pub fn parse(body: &[u8]) -> Result<Order, Invalid> {
    // The plain parser first: the same `Deserialize`, so it accepts exactly what the path-tracking
    // one accepts, without recording the path of every value. Only a rejected body pays for the
    // second pass that names the field.
    let order = match serde_json::from_slice::<Order>(body) {
        Ok(order) => order,
        Err(_) => parse_tracked(body)?,
    };
    validate(&order)?;
    Ok(order)
}

/// The parse that tracks the path of the offending value, for the error.
fn parse_tracked(body: &[u8]) -> Result<Order, Invalid> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let order: Order = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        // serde reports a missing field at its parent; name the field itself.
        let field = msg
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map_or(path.clone(), |name| {
                if path == "." {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                }
            });
        let why = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        Invalid::new(field, why)
    })?;
    Ok(order)
}

/// Checks the rules serde cannot: non-empty, ranges, known SKUs and currencies.
pub fn validate(order: &Order) -> Result<(), Invalid> {
    if !CURRENCIES.contains(&order.currency.as_str()) {
        return Err(Invalid::new(
            "currency",
            format_args!(
                "{:?} is not one of {}",
                order.currency,
                CURRENCIES.join(", ")
            ),
        ));
    }
    if order.items.is_empty() {
        return Err(Invalid::new("items", "must hold at least one item"));
    }
    if order.items.len() > MAX_ITEMS {
        return Err(Invalid::new(
            "items",
            format_args!("at most {MAX_ITEMS} items, got {}", order.items.len()),
        ));
    }
    for (i, item) in order.items.iter().enumerate() {
        if item.sku.trim().is_empty() {
            return Err(Invalid::new(format!("items[{i}].sku"), "must not be empty"));
        }
        if price(&item.sku).is_none() {
            return Err(Invalid::new(
                format!("items[{i}].sku"),
                format_args!("unknown sku {:?}", item.sku),
            ));
        }
        if item.quantity == 0 {
            return Err(Invalid::new(
                format!("items[{i}].quantity"),
                "must be greater than 0",
            ));
        }
        if item.quantity > MAX_QUANTITY {
            return Err(Invalid::new(
                format!("items[{i}].quantity"),
                format_args!("must be at most {MAX_QUANTITY}"),
            ));
        }
    }
    Ok(())
}

/// Unit price of a SKU in minor units.
#[must_use]
pub fn price(sku: &str) -> Option<u64> {
    CATALOG.iter().find(|(s, _)| *s == sku).map(|(_, p)| *p)
}

/// Total of a validated order in minor units.
#[must_use]
pub fn total_minor(order: &Order) -> u64 {
    order
        .items
        .iter()
        .map(|i| price(&i.sku).unwrap_or(0) * u64::from(i.quantity))
        .sum()
}

/// The optional work degraded mode skips: SKUs of the catalog not already in the order.
#[must_use]
pub fn recommendations(order: &Order) -> Vec<String> {
    CATALOG
        .iter()
        .map(|(sku, _)| *sku)
        .filter(|sku| !order.items.iter().any(|i| i.sku == *sku))
        .take(3)
        .map(str::to_owned)
        .collect()
}

/// Formats minor units as a decimal string with two places.
#[must_use]
pub fn format_minor(minor: u64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> Invalid {
        parse(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn valid_order_totals() {
        let o = parse(br#"{"currency":"EUR","items":[{"sku":"SKU-1001","quantity":2},{"sku":"SKU-1003","quantity":1}]}"#).unwrap();
        assert_eq!(total_minor(&o), 2 * 1_299 + 499);
        assert_eq!(format_minor(total_minor(&o)), "30.97");
        assert_eq!(recommendations(&o), ["SKU-1002", "SKU-1004", "SKU-1005"]);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                r#"{"currency":"EUR","items":[{"sku":"SKU-1001","quantity":0}]}"#,
                "items[0].quantity",
            ),
            (
                r#"{"currency":"EUR","items":[{"sku":"SKU-1001","quantity":-1}]}"#,
                "items[0].quantity",
            ),
            (
                r#"{"currency":"EUR","items":[{"sku":"SKU-1001"}]}"#,
                "items[0].quantity",
            ),
            (
                r#"{"currency":"EUR","items":[{"quantity":1}]}"#,
                "items[0].sku",
            ),
            (
                r#"{"currency":"EUR","items":[{"sku":"nope","quantity":1}]}"#,
                "items[0].sku",
            ),
            (
                r#"{"currency":"EUR","items":[{"sku":"","quantity":1}]}"#,
                "items[0].sku",
            ),
            (r#"{"currency":"EUR","items":[]}"#, "items"),
            (r#"{"items":[{"sku":"SKU-1001","quantity":1}]}"#, "currency"),
            (
                r#"{"currency":"XXX","items":[{"sku":"SKU-1001","quantity":1}]}"#,
                "currency",
            ),
            (
                r#"{"currency":"EUR","items":[{"sku":"SKU-1001","quantity":1}],"x":1}"#,
                "x",
            ),
        ];
        for (body, field) in cases {
            let e = err(body);
            assert_eq!(e.field, field, "{body}: {e:?}");
            assert!(e.error.starts_with(&format!("{field}: ")), "{e:?}");
        }
    }

    #[test]
    fn syntax_error_is_reported() {
        let e = err("{not json");
        assert!(e.error.contains("key must be a string"), "{e:?}");
    }
}
