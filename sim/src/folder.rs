//! Running a folder of scenario files in one call: [`run_folder`] (every `*.toml` file,
//! each with its seeds, on both layers) and [`Folder`] to choose layers and seeds.
//!
//! ```no_run
//! // tests/scenarios.rs of a project with its own scenarios in `scenarios/`:
//! #[test]
//! fn every_scenario_meets_its_expectations() {
//!     let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
//!     let report = sim::run_folder(dir).unwrap_or_else(|e| panic!("{e}"));
//!     assert!(report.passed(), "{report}");
//! }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::scenario::{self, Layer, Report, Scenario, ScenarioError};
use crate::turmoil_scenario::{self, TurmoilError, UnsupportedItem};

/// Why a folder could not be run (distinct from expectations that failed).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FolderError {
    /// The folder or one of its entries could not be read.
    Io {
        /// The folder.
        dir: PathBuf,
        /// What the system said.
        message: String,
    },
    /// The folder holds no `*.toml` file.
    Empty(PathBuf),
    /// A scenario file could not be loaded (the error names the file and line).
    Load(ScenarioError),
}

impl fmt::Display for FolderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { dir, message } => write!(f, "{}: {message}", dir.display()),
            Self::Empty(dir) => write!(f, "{}: no scenario (*.toml) files", dir.display()),
            Self::Load(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FolderError {}

/// A scenario layer 2 refused before running, with every part it cannot model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The scenario's name.
    pub scenario: String,
    /// Its file.
    pub file: PathBuf,
    /// What layer 2 cannot model, and why.
    pub items: Vec<UnsupportedItem>,
}

/// What [`run_folder`] or [`Folder::run`] did.
#[derive(Clone, Debug, Default)]
pub struct FolderReport {
    /// The scenario files run, in name order.
    pub files: Vec<PathBuf>,
    /// Every completed run (file order, then layer, then seed), passed or not.
    pub runs: Vec<Report>,
    /// Scenarios layer 2 refused as unsupported (not a failure: the refusal names why).
    pub refused: Vec<Refused>,
    /// Runs that could not complete (a bad definition met while running, a host's
    /// software failed): one line each, naming the file, layer and seed.
    pub errors: Vec<String>,
}

impl FolderReport {
    /// Whether every run met its expectations and none failed to complete.
    pub fn passed(&self) -> bool {
        self.errors.is_empty() && self.runs.iter().all(Report::passed)
    }

    /// The failed runs' reports and the errors, one entry each.
    pub fn failures(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter(|r| !r.passed())
            .map(ToString::to_string)
            .chain(self.errors.iter().cloned())
            .collect()
    }
}

impl fmt::Display for FolderReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ok = self.runs.iter().filter(|r| r.passed()).count();
        writeln!(
            f,
            "{} scenario files: {ok} runs passed, {} failed, {} errors, {} refused on layer 2",
            self.files.len(),
            self.runs.len() - ok,
            self.errors.len(),
            self.refused.len()
        )?;
        for r in &self.refused {
            writeln!(f, "{}: unsupported on layer 2", r.scenario)?;
            for i in &r.items {
                writeln!(f, "  {i}")?;
            }
        }
        for x in self.failures() {
            writeln!(f, "{}", x.trim_end())?;
        }
        Ok(())
    }
}

/// A folder of scenarios to run: which layers, and how many of each scenario's seeds.
#[derive(Clone, Debug)]
pub struct Folder {
    dir: PathBuf,
    /// Each layer to run on, with the most seeds per scenario (`None`: all).
    layers: Vec<(Layer, Option<usize>)>,
}

impl Folder {
    /// Every `*.toml` file in `dir`, with all its seeds, on both layers.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_owned(),
            layers: vec![(Layer::Proto, None), (Layer::Turmoil, None)],
        }
    }

    /// Runs on `layer` only.
    pub fn only(mut self, layer: Layer) -> Self {
        self.layers.retain(|(l, _)| *l == layer);
        if self.layers.is_empty() {
            self.layers.push((layer, None));
        }
        self
    }

    /// On `layer`, runs only the first `n` of each scenario's seeds (layer 2 takes about
    /// 0.2 s a run).
    pub fn max_seeds(mut self, layer: Layer, n: usize) -> Self {
        for (l, m) in &mut self.layers {
            if *l == layer {
                *m = Some(n);
            }
        }
        self
    }

    /// The `*.toml` files of the folder, in name order.
    pub fn files(&self) -> Result<Vec<PathBuf>, FolderError> {
        let io = |e: std::io::Error| FolderError::Io {
            dir: self.dir.clone(),
            message: e.to_string(),
        };
        let mut v = Vec::new();
        for e in std::fs::read_dir(&self.dir).map_err(io)? {
            let p = e.map_err(io)?.path();
            if p.is_file() && p.extension().is_some_and(|e| e == "toml") {
                v.push(p);
            }
        }
        if v.is_empty() {
            return Err(FolderError::Empty(self.dir.clone()));
        }
        v.sort();
        Ok(v)
    }

    /// Loads every file (any file that does not load stops the run with its error),
    /// then runs each on the chosen layers with its seeds.
    pub fn run(&self) -> Result<FolderReport, FolderError> {
        let files = self.files()?;
        let scenarios = files
            .iter()
            .map(|f| Scenario::load(f).map(|sc| (f, sc)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(FolderError::Load)?;
        let mut out = FolderReport {
            files: files.clone(),
            ..FolderReport::default()
        };
        for (file, sc) in &scenarios {
            for &(layer, max) in &self.layers {
                let seeds = sc.test_seeds();
                let seeds = &seeds[..max.map_or(seeds.len(), |m| m.min(seeds.len()))];
                for &seed in seeds {
                    let run = match layer {
                        Layer::Proto => scenario::run(file, seed).map_err(TurmoilError::from),
                        Layer::Turmoil => turmoil_scenario::run(file, seed),
                    };
                    match run {
                        Ok(r) => out.runs.push(r),
                        Err(TurmoilError::Unsupported {
                            scenario, items, ..
                        }) => {
                            // The refusal does not depend on the seed.
                            out.refused.push(Refused {
                                scenario,
                                file: file.to_path_buf(),
                                items,
                            });
                            break;
                        }
                        Err(e) => out.errors.push(format!("[{layer}] {e}")),
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Runs every scenario file (`*.toml`) in `dir` with its seeds (`seeds = [...]`, default
/// `[1, 2, 3]`) on both layers; a scenario layer 2 cannot model is listed in
/// [`FolderReport::refused`] rather than failed. See [`Folder`] to choose layers and
/// seeds.
pub fn run_folder(dir: impl AsRef<Path>) -> Result<FolderReport, FolderError> {
    Folder::new(dir).run()
}
