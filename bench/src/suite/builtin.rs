//! The suites compiled into the binary: every `evalsets/<id>/` file of the repository
//! (see `bench/build.rs`), so `noa bench` works from an installed binary as well as
//! from a clean clone.

mod generated {
    include!(concat!(env!("OUT_DIR"), "/builtin_suites.rs"));
}

/// `(folder, file name, contents)` of every embedded file.
pub fn files() -> &'static [(&'static str, &'static str, &'static str)] {
    generated::FILES
}

/// The embedded file `name` of suite folder `dir`.
pub fn file(dir: &str, name: &str) -> Option<&'static str> {
    files().iter().find(|(d, n, _)| *d == dir && *n == name).map(|(_, _, text)| *text)
}
