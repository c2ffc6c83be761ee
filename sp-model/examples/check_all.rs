//! Checks every standard configuration and prints what the checker found:
//! `cargo run --release -p sp-model --example check_all [MAX_DEPTH|full] [NAME_PART]`.
//! `full` (or no depth) explores each whole space; with `NAME_PART`, only the
//! configurations whose name contains it are checked.

fn main() {
    let mut args = std::env::args().skip(1);
    let depth = args
        .next()
        .filter(|d| d != "full")
        .map(|d| d.parse().expect("a depth or `full`"));
    let only = args.next().unwrap_or_default();
    let mut failed = false;
    for spec in sp_model::configs::all() {
        if !spec.name.contains(only.as_str()) {
            continue;
        }
        let outcome = sp_model::check(spec, depth);
        failed |= !outcome.counterexamples.is_empty() || !outcome.uncovered.is_empty();
        print!("{outcome}");
    }
    if failed {
        std::process::exit(1);
    }
}
