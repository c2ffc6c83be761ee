//! Subscribing and unsubscribing topics of two bytes or more: the edits of the radix
//! trees under the top index (new records are appended, replaced ones become garbage).

use super::records::{Kids, Piece, Rec, TERMINAL};
use super::{NotSubscribed, Subscriptions};

fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Where the pointer to a record is kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    /// In the top index, under this prefix.
    Top(u16),
    /// In the buffer, at this offset.
    Buf(usize),
}

impl Subscriptions {
    /// Inserts the topic `prefix ++ rest`; false if present.
    pub(super) fn insert(&mut self, prefix: u16, rest: &[u8]) -> bool {
        let Some(mut at) = self.top.get(prefix) else {
            let leaf = self.push_record(true, &[Piece::Ext(rest)], &[]);
            self.top.set(prefix, leaf);
            return true;
        };
        let mut slot = Slot::Top(prefix);
        let mut rest = rest;
        loop {
            let r = Rec::parse(&self.buf, at as usize);
            let common = common_prefix_len(&self.buf[r.label()], rest);
            if common < r.label_len {
                // Split the label after `common` bytes: a new record holds the shared
                // part, the old record moves below it with the rest of its label.
                let cut = r.label + common;
                let old_key = self.buf[cut];
                let tail = self.push_record(
                    r.terminal,
                    &[Piece::Own(cut + 1..r.label().end)],
                    &[Kids::Copy(r, 0..r.n)],
                );
                let old = Kids::One(old_key, tail);
                let mid = match rest.get(common) {
                    None => self.push_record(true, &[Piece::Own(r.label..cut)], &[old]),
                    Some(&b) => {
                        let leaf = self.push_record(true, &[Piece::Ext(&rest[common + 1..])], &[]);
                        let new = Kids::One(b, leaf);
                        let kids = if b < old_key { [new, old] } else { [old, new] };
                        self.push_record(false, &[Piece::Own(r.label..cut)], &kids)
                    }
                };
                self.replace(slot, r, mid);
                return true;
            }
            rest = &rest[common..];
            let Some((&b, tail)) = rest.split_first() else {
                if r.terminal {
                    return false;
                }
                self.buf[r.at] |= TERMINAL;
                return true;
            };
            match r.find(&self.buf, b) {
                Ok(i) => {
                    slot = Slot::Buf(r.ptr_pos(i));
                    at = r.child(&self.buf, i);
                    rest = tail;
                }
                Err(i) => {
                    let leaf = self.push_record(true, &[Piece::Ext(tail)], &[]);
                    let moved = self.push_record(
                        r.terminal,
                        &[Piece::Own(r.label())],
                        &[
                            Kids::Copy(r, 0..i),
                            Kids::One(b, leaf),
                            Kids::Copy(r, i..r.n),
                        ],
                    );
                    self.replace(slot, r, moved);
                    return true;
                }
            }
        }
    }

    /// Removes the topic `prefix ++ rest`.
    pub(super) fn remove(&mut self, prefix: u16, rest: &[u8]) -> Result<(), NotSubscribed> {
        let mut at = self.top.get(prefix).ok_or(NotSubscribed)?;
        let mut slot = Slot::Top(prefix);
        let mut parent = None;
        let mut rest = rest;
        let r = loop {
            let r = Rec::parse(&self.buf, at as usize);
            rest = rest
                .strip_prefix(&self.buf[r.label()])
                .ok_or(NotSubscribed)?;
            let Some((&b, tail)) = rest.split_first() else {
                if !r.terminal {
                    return Err(NotSubscribed);
                }
                break r;
            };
            let i = r.find(&self.buf, b).map_err(|_| NotSubscribed)?;
            parent = Some((r, i, slot));
            slot = Slot::Buf(r.ptr_pos(i));
            at = r.child(&self.buf, i);
            rest = tail;
        };
        match r.n {
            0 => {
                self.garbage += r.size();
                match parent {
                    None => self.top.remove(prefix),
                    // A parent that is not a topic keeps two children or more: with one
                    // left it is folded into it.
                    Some((p, i, pslot)) if !p.terminal && p.n == 2 => {
                        self.merge_child(pslot, p, 1 - i);
                    }
                    Some((p, i, pslot)) => {
                        let moved = self.push_record(
                            p.terminal,
                            &[Piece::Own(p.label())],
                            &[Kids::Copy(p, 0..i), Kids::Copy(p, i + 1..p.n)],
                        );
                        self.replace(pslot, p, moved);
                    }
                }
            }
            1 => self.merge_child(slot, r, 0),
            _ => self.buf[r.at] &= !TERMINAL,
        }
        Ok(())
    }

    /// Replaces the record `r` (no longer a topic itself) by its child `i`, whose label
    /// grows by `r`'s label and key.
    fn merge_child(&mut self, slot: Slot, r: Rec, i: usize) {
        let c = Rec::parse(&self.buf, r.child(&self.buf, i) as usize);
        let merged = self.push_record(
            c.terminal,
            &[
                Piece::Own(r.label()),
                Piece::Byte(r.key(&self.buf, i)),
                Piece::Own(c.label()),
            ],
            &[Kids::Copy(c, 0..c.n)],
        );
        self.garbage += c.size();
        self.replace(slot, r, merged);
    }

    /// Points `slot` (which held `old`) at the record `new`; `old` becomes garbage.
    fn replace(&mut self, slot: Slot, old: Rec, new: u32) {
        self.garbage += old.size();
        match slot {
            Slot::Top(prefix) => self.top.set(prefix, new),
            Slot::Buf(pos) => self.buf[pos..pos + 4].copy_from_slice(&new.to_le_bytes()),
        }
    }
}
