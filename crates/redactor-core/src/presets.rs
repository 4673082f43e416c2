//! Built-in presets: named lists of ordinary rules, one TOML file each under
//! `presets/`, derived from the vendor field reference (see `docs/presets.md`):
//! one per vendor, and one for credentials under their usual names.

/// Every preset, in the order the default policy includes them.
pub const NAMES: [&str; 6] = [
    "mixpanel",
    "segment",
    "amplitude",
    "posthog",
    "otel",
    "credentials",
];

/// The TOML source of a preset.
pub fn source(name: &str) -> Option<&'static str> {
    Some(match name {
        "mixpanel" => include_str!("../presets/mixpanel.toml"),
        "segment" => include_str!("../presets/segment.toml"),
        "amplitude" => include_str!("../presets/amplitude.toml"),
        "posthog" => include_str!("../presets/posthog.toml"),
        "otel" => include_str!("../presets/otel.toml"),
        "credentials" => include_str!("../presets/credentials.toml"),
        _ => return None,
    })
}
