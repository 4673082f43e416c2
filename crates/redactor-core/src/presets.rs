//! Built-in presets: named lists of ordinary rules, one TOML file each under
//! `presets/`, derived from the vendor field reference (see `docs/presets.md`):
//! one per vendor, and two for credentials and personal data under their
//! usual names.

/// Every preset, in the order the default policy includes them.
pub const NAMES: [&str; 9] = [
    "mixpanel",
    "segment",
    "amplitude",
    "posthog",
    "snowplow",
    "ga4",
    "otel",
    "credentials",
    "personal",
];

/// The TOML source of a preset.
pub fn source(name: &str) -> Option<&'static str> {
    Some(match name {
        "mixpanel" => include_str!("../presets/mixpanel.toml"),
        "segment" => include_str!("../presets/segment.toml"),
        "amplitude" => include_str!("../presets/amplitude.toml"),
        "posthog" => include_str!("../presets/posthog.toml"),
        "snowplow" => include_str!("../presets/snowplow.toml"),
        "ga4" => include_str!("../presets/ga4.toml"),
        "otel" => include_str!("../presets/otel.toml"),
        "credentials" => include_str!("../presets/credentials.toml"),
        "personal" => include_str!("../presets/personal.toml"),
        _ => return None,
    })
}
