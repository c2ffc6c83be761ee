//! Checks every standard configuration and prints what the checker found:
//! `cargo run --release -p sp-model --example check_all [MAX_DEPTH]`.

fn main() {
    let depth = std::env::args().nth(1).map(|d| d.parse().expect("a depth"));
    let mut failed = false;
    for spec in sp_model::configs::all() {
        let outcome = sp_model::check(spec, depth);
        failed |= !outcome.counterexamples.is_empty();
        print!("{outcome}");
    }
    if failed {
        std::process::exit(1);
    }
}
