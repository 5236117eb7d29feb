//! How header values reach the verifier: a one-method lookup trait, so any HTTP stack can be plugged in.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// Looks a header value up by name, ignoring ASCII letter case.
///
/// Values are raw bytes: a header that is not UTF-8 is still passed through, and each scheme decides what to do
/// with it. Ready implementations cover slices, arrays and vectors of `(name, value)` pairs (any mix of `&str`,
/// `String`, `&[u8]` and `Vec<u8>`), `HashMap` and `BTreeMap`. With several entries of one name, the first wins.
/// Implementing it for another stack's header map takes three lines; for `http::HeaderMap`, the body is
/// `self.0.get(name).map(|value| value.as_bytes())` (see the crate README).
pub trait HeaderLookup {
    /// The value of the header called `name` (compared case-insensitively), if present.
    fn header(&self, name: &str) -> Option<&[u8]>;
}

fn find_pair<'a, K, V>(pairs: impl IntoIterator<Item = (&'a K, &'a V)>, name: &str) -> Option<&'a [u8]>
where
    K: AsRef<[u8]> + ?Sized + 'a,
    V: AsRef<[u8]> + ?Sized + 'a,
{
    pairs
        .into_iter()
        .find(|(key, _)| key.as_ref().eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, value)| value.as_ref())
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> HeaderLookup for [(K, V)] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        find_pair(self.iter().map(|(k, v)| (k, v)), name)
    }
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>, const N: usize> HeaderLookup for [(K, V); N] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.as_slice().header(name)
    }
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> HeaderLookup for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.as_slice().header(name)
    }
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>, S: BuildHasher> HeaderLookup for HashMap<K, V, S> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        find_pair(self.iter(), name)
    }
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> HeaderLookup for BTreeMap<K, V> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        find_pair(self.iter(), name)
    }
}

impl<T: HeaderLookup + ?Sized> HeaderLookup for &T {
    fn header(&self, name: &str) -> Option<&[u8]> {
        (**self).header(name)
    }
}
