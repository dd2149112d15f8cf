//! Shared strings for the parts of an object's identity that many objects repeat.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// An `apiVersion`, group, kind or namespace. A large input repeats a few of them across
/// every object: each distinct text is allocated once per loading thread and shared, where a
/// `String` per object cost an allocation each (four per object, a fifth of a small object's
/// memory). Reads as a `&str`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<str>);

/// How many distinct texts each thread shares; beyond that (a hostile input with a million
/// kinds), texts are allocated per object as before, so the table itself stays small.
const SHARED_PER_THREAD: usize = 4096;

thread_local! {
    static SHARED: RefCell<HashSet<Arc<str>>> = RefCell::new(HashSet::new());
}

impl Name {
    /// `text`, shared with earlier names of the same text made on this thread.
    pub fn new(text: &str) -> Self {
        if text.is_empty() {
            return Name::default();
        }
        SHARED.with(|shared| {
            let mut shared = shared.borrow_mut();
            if let Some(found) = shared.get(text) {
                return Name(found.clone());
            }
            let name: Arc<str> = Arc::from(text);
            if shared.len() < SHARED_PER_THREAD {
                shared.insert(name.clone());
            }
            Name(name)
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Name {
    fn default() -> Self {
        // One empty text for all: the core group and "no namespace" are the common case.
        static EMPTY: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
        Name(EMPTY.get_or_init(|| Arc::from("")).clone())
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_one_text_share_one_allocation() {
        let a = Name::new("ConfigMap");
        let b = Name::new(&String::from("ConfigMap"));
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a, "ConfigMap");
        assert_eq!(a.as_str(), "ConfigMap");
        assert!(Arc::ptr_eq(&Name::new("").0, &Name::default().0));
        assert_ne!(Name::new("Secret"), a);
    }
}
