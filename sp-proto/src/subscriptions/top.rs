//! The top index of a [`Subscriptions`]: the subtree of each two-byte topic prefix,
//! sparse (sorted) for small sets and dense (a table of 65 536 roots) for large ones.

#[cfg(doc)]
use super::Subscriptions;
use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

/// An absent subtree in the dense top index.
pub(super) const NONE: u32 = u32::MAX;
/// Entries of the dense top index: one per two-byte prefix.
pub(super) const DENSE_LEN: usize = 1 << 16;

/// The index over the first two bytes of topics of two bytes or more: for each prefix,
/// the offset of the root record of the subtree holding the rest of those topics.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Top {
    /// Sorted prefixes (big-endian `u16`) and their roots, for small sets.
    Sparse { keys: Vec<u16>, roots: Vec<u32> },
    /// A root per prefix ([`NONE`] if absent), and the number present.
    Dense { roots: Box<[u32]>, count: usize },
}

impl Default for Top {
    fn default() -> Self {
        Self::Sparse {
            keys: Vec::new(),
            roots: Vec::new(),
        }
    }
}

impl Top {
    #[inline(always)]
    pub(super) fn get(&self, key: u16) -> Option<u32> {
        match self {
            Self::Sparse { keys, roots } => {
                let i = keys.binary_search(&key).ok()?;
                roots.get(i).copied()
            }
            Self::Dense { roots, .. } => {
                roots.get(usize::from(key)).copied().filter(|&r| r != NONE)
            }
        }
    }

    /// Inserts or replaces the root of `key`.
    pub(super) fn set(&mut self, key: u16, root: u32) {
        match self {
            Self::Sparse { keys, roots } => match keys.binary_search(&key) {
                Ok(i) => roots[i] = root,
                Err(i) => {
                    keys.insert(i, key);
                    roots.insert(i, root);
                }
            },
            Self::Dense { roots, count } => {
                let slot = &mut roots[usize::from(key)];
                *count += usize::from(*slot == NONE);
                *slot = root;
            }
        }
    }

    pub(super) fn remove(&mut self, key: u16) {
        match self {
            Self::Sparse { keys, roots } => {
                if let Ok(i) = keys.binary_search(&key) {
                    keys.remove(i);
                    roots.remove(i);
                }
            }
            Self::Dense { roots, count } => {
                let slot = &mut roots[usize::from(key)];
                *count -= usize::from(*slot != NONE);
                *slot = NONE;
            }
        }
    }

    /// The first entry at or after position `from`, in key order: its position, key and
    /// root.
    pub(super) fn next(&self, from: usize) -> Option<(usize, u16, u32)> {
        match self {
            Self::Sparse { keys, roots } => Some((from, *keys.get(from)?, *roots.get(from)?)),
            Self::Dense { roots, .. } => {
                let (i, &r) = roots
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|&(_, &r)| r != NONE)?;
                Some((i, i as u16, r))
            }
        }
    }

    /// The root at a position returned by [`Top::next`].
    pub(super) fn root_mut(&mut self, pos: usize) -> &mut u32 {
        match self {
            Self::Sparse { roots, .. } => &mut roots[pos],
            Self::Dense { roots, .. } => &mut roots[pos],
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        match self {
            Self::Sparse { keys, .. } => keys.len(),
            Self::Dense { count, .. } => *count,
        }
    }

    pub(super) fn make_dense(&mut self) {
        if let Self::Sparse {
            keys,
            roots: sparse,
        } = self
        {
            let mut roots = vec![NONE; DENSE_LEN].into_boxed_slice();
            for (&k, &r) in keys.iter().zip(sparse.iter()) {
                roots[usize::from(k)] = r;
            }
            *self = Self::Dense {
                roots,
                count: keys.len(),
            };
        }
    }

    pub(super) fn make_sparse(&mut self) {
        if let Self::Dense {
            roots: dense,
            count,
        } = self
        {
            let mut keys = Vec::with_capacity(*count);
            let mut roots = Vec::with_capacity(*count);
            for (k, &r) in dense.iter().enumerate() {
                if r != NONE {
                    keys.push(k as u16);
                    roots.push(r);
                }
            }
            *self = Self::Sparse { keys, roots };
        }
    }

    pub(super) fn shrink_to_fit(&mut self) {
        if let Self::Sparse { keys, roots } = self {
            keys.shrink_to_fit();
            roots.shrink_to_fit();
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Self::Sparse { keys, roots } => keys.capacity() * 2 + roots.capacity() * 4,
            Self::Dense { roots, .. } => roots.len() * 4,
        }
    }
}
