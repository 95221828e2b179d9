//! The names of configured sources (partners, accounts, providers, PBXes): they appear in URLs.

/// Refuses a name that could not stand in `/hooks/{channel}/{name}` as written.
pub fn check_name(table: &str, name: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "{table}.{name:?}: names are letters, digits, - and _ (they appear in URLs)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_url_safe() {
        assert!(super::check_name("t", "baixing_radio-1").is_ok());
        for bad in ["", "a b", "a/b", "名"] {
            assert!(super::check_name("t", bad).is_err(), "{bad:?}");
        }
    }
}
