// The policy families the two engines are compared on, as (name, TOML
// source without keys). Included by the differential test and by the fuzz
// target `fast_vs_reference` (`fuzz/`), so that both compare the same ones.

/// Every policy family, by name.
fn policy_families() -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("default", redactor_core::policy::DEFAULT_POLICY.to_string()),
        (
            "allowlist",
            "mode = \"allowlist\"\npresets = \"all\"\n".to_string(),
        ),
        ("detectors only", String::new()),
        (
            "nothing",
            "detectors = \"off\"\nnested_json = false\n".to_string(),
        ),
        ("custom", include_str!("custom.toml").to_string()),
    ];
    for name in redactor_core::presets::NAMES {
        v.push((name, format!("presets = [\"{name}\"]\n")));
    }
    v
}
