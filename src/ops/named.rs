//! Tallies kept by name and counted on every request.
//!
//! `BTreeMap::entry` takes an owned key, so reaching a tally through it copies the name on every
//! request even when the tally exists (nearly always). The ops counters look the name up first and
//! copy it only the first time it is seen.

use std::collections::BTreeMap;

/// The value under `name`, made by `make` and inserted (copying the name) only when missing.
pub fn named<'a, V>(
    map: &'a mut BTreeMap<String, V>,
    name: &str,
    make: impl FnOnce() -> V,
) -> &'a mut V {
    // Two lookups instead of an early return of `get_mut`'s borrow, which the borrow checker
    // refuses; the maps hold a handful of names.
    if !map.contains_key(name) {
        map.insert(name.to_string(), make());
    }
    map.get_mut(name).expect("present or inserted above")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_once_and_then_finds() {
        let mut map = BTreeMap::new();
        *named(&mut map, "web", || 0) += 1;
        *named(&mut map, "web", || unreachable!("already there")) += 1;
        assert_eq!(map.get("web"), Some(&2));
    }
}
