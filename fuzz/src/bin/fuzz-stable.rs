//! The fuzz targets on a stable toolchain: each target first runs its seed corpus, then
//! inputs mutated from it by a seeded RNG, for a fixed time. Exits non-zero on the first
//! crash, after saving the input under `fuzz/artifacts/<target>/`.
//!
//! ```text
//! fuzz-stable [SECONDS_PER_TARGET] [--seed N] [--only NAME]
//! fuzz-stable --replay NAME FILE
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sp_fuzz::{Target, TARGETS};

/// xorshift64*: small, seeded, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        const INTERESTING: [u8; 10] = [0, 1, 0x7e, 0x7f, 0x80, 0xff, 125, 126, 127, b'S'];
        if self.below(4) == 0 {
            INTERESTING[self.below(INTERESTING.len())]
        } else {
            self.next() as u8
        }
    }
}

const MAX_LEN: usize = 4096;

fn mutate(rng: &mut Rng, corpus: &[Vec<u8>], out: &mut Vec<u8>) {
    out.clear();
    if corpus.is_empty() || rng.below(16) == 0 {
        let n = rng.below(256);
        out.extend((0..n).map(|_| rng.byte()));
        return;
    }
    out.extend_from_slice(&corpus[rng.below(corpus.len())]);
    for _ in 0..=rng.below(8) {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = rng.byte();
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
                out.splice(i..i, bytes);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                out.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let copy = out[i..i + n].to_vec();
                let j = rng.below(len + 1);
                out.splice(j..j, copy);
            }
            5 => {
                let other = &corpus[rng.below(corpus.len())];
                let i = rng.below(len + 1);
                let j = rng.below(other.len() + 1);
                out.truncate(i);
                out.extend_from_slice(&other[j..]);
            }
            6 if len > 0 => out.truncate(rng.below(len)),
            7 if len >= 4 => {
                // A big-endian word of an interesting value (lengths, ids).
                let i = rng.below(len - 3);
                let v: u32 = match rng.below(4) {
                    0 => 0x8000_0000 | rng.next() as u32,
                    1 => u32::MAX,
                    2 => rng.below(300) as u32,
                    _ => rng.next() as u32,
                };
                out[i..i + 4].copy_from_slice(&v.to_be_bytes());
            }
            _ => out.push(rng.byte()),
        }
    }
    out.truncate(MAX_LEN);
}

fn load_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
}

fn run_one(target: Target, input: &[u8]) -> bool {
    catch_unwind(AssertUnwindSafe(|| target(input))).is_ok()
}

fn save_crash(root: &Path, name: &str, input: &[u8], tag: &str) -> PathBuf {
    let dir = root.join("artifacts").join(name);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("crash-{tag}"));
    let _ = std::fs::write(&path, input);
    path
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if args.first().map(String::as_str) == Some("--replay") {
        let (Some(name), Some(file)) = (args.get(1), args.get(2)) else {
            eprintln!("usage: fuzz-stable --replay NAME FILE");
            return ExitCode::from(2);
        };
        let Some(&(_, target)) = TARGETS.iter().find(|(n, _)| n == name) else {
            eprintln!("unknown target {name}");
            return ExitCode::from(2);
        };
        let input = std::fs::read(file).expect("readable input");
        target(&input);
        println!("{name}: {file} passes");
        return ExitCode::SUCCESS;
    }
    let mut seconds = 3.0f64;
    let mut seed = 0x5eed_u64;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => seed = it.next().and_then(|s| s.parse().ok()).expect("--seed N"),
            "--only" => only = it.next().cloned(),
            s => seconds = s.parse().expect("SECONDS_PER_TARGET"),
        }
    }
    // Panics are caught and reported once, with the input saved.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::env::var_os("FUZZ_QUIET").is_none() {
            default_hook(info);
        }
    }));
    let mut failed = false;
    for &(name, target) in TARGETS {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let corpus = load_corpus(&root.join("corpus").join(name));
        for (i, input) in corpus.iter().enumerate() {
            if !run_one(target, input) {
                let path = save_crash(root, name, input, &format!("seed-{i}"));
                eprintln!(
                    "{name}: seed input {i} crashes (copy at {})",
                    path.display()
                );
                failed = true;
            }
        }
        let mut rng = Rng((seed ^ (name.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let mut input = Vec::new();
        let mut runs = 0u64;
        while !failed && Instant::now() < deadline {
            for _ in 0..64 {
                mutate(&mut rng, &corpus, &mut input);
                runs += 1;
                if !run_one(target, &input) {
                    let path = save_crash(root, name, &input, &format!("{seed}-{runs}"));
                    eprintln!(
                        "{name}: crash after {runs} runs (seed {seed}); input saved at {}\n  replay: cargo run --manifest-path fuzz/Cargo.toml --no-default-features --bin fuzz-stable -- --replay {name} {}",
                        path.display(),
                        path.display()
                    );
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            break;
        }
        println!("{name:>16}: {runs} runs, {} seeds, ok", corpus.len());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
