//! The render cache: for each region, a digest of its inputs and what its last render wrote,
//! with what `stat` said of those files, so that a re-render skips the regions whose inputs did
//! not change and proves their files unchanged without reading them, as git's index does.
//!
//! It lives in the git directory of the repository holding the sources (`.git/hadr/`), outside
//! the working tree: it is machine-specific (inodes, times) and must never be committed, and
//! git already keeps its own such state there. Outside a git repository there is no cache and
//! every render is a full one. Anything wrong with it (unreadable, corrupt, written by another
//! build of the program or for another output directory) makes it empty: it can cost a full
//! render, never a wrong result.
//!
//! It is also kept per boot of the machine: rendered files are not synced to disk (see
//! `revision::tree::apply`), so after a power loss a file may hold other bytes than its stat
//! data promised. A cache written before the last boot is empty: the first render after a
//! reboot reads every file again by content.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fs::Metadata;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::{hex, sha256_hex};
use crate::render::Warning;

/// The first line of a cache file, followed by the sha256 of the rest.
const MAGIC: &str = "kubectl-hadr render cache v4";

/// What `stat` says of a file: the fields git's index compares. A change of content changes
/// the change time (`ctime`) at least, and a file replaced by a rename has another inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    size: u64,
    mtime: i128,
    ctime: i128,
    ino: u64,
    dev: u64,
}

impl Stat {
    /// `None` where the platform does not say enough: such files are always read.
    #[cfg(unix)]
    pub fn of(meta: &Metadata) -> Option<Stat> {
        use std::os::unix::fs::MetadataExt;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Some(Stat {
            size: meta.size(),
            mtime: ns(meta.mtime(), meta.mtime_nsec()),
            ctime: ns(meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
            dev: meta.dev(),
        })
    }

    #[cfg(not(unix))]
    pub fn of(_meta: &Metadata) -> Option<Stat> {
        None
    }

    /// Whether the file may have changed in the same clock tick as a time of reference, so
    /// that its times cannot tell (git's "racily clean" entries).
    fn racy(&self, reference: i128) -> bool {
        self.mtime >= reference || self.ctime >= reference
    }
}

/// What the last render of one region wrote, and from which inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionEntry {
    pub environment: String,
    pub region: String,
    /// Hex of `Renderer::input_digest`.
    pub input: String,
    /// The set digest.
    pub digest: String,
    pub objects: usize,
    pub warnings: Vec<Warning>,
    /// What the region directory holds: `content_digest` of every file, the index included.
    pub content: String,
    /// What `stat` said of them: `stat_digest`, when it could tell.
    pub stat: Option<StatDigest>,
}

/// The stat data of every file of a directory in one digest: one comparison proves a region
/// unchanged (and a cache file of a few hundred bytes per region is quick to read), while a
/// change to any file, or one added, removed or renamed, changes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatDigest {
    pub sha256: String,
    /// The newest modification or change time among the files (for the racy rule).
    pub newest: i128,
}

/// The digest of a directory's files by name and content (`(file name, hex sha256)`).
pub fn content_digest<'a>(files: impl IntoIterator<Item = (&'a OsStr, &'a str)>) -> String {
    use sha2::{Digest, Sha256};
    let mut files: Vec<_> = files.into_iter().collect();
    files.sort_unstable();
    let mut h = Sha256::new();
    for (name, sha256) in files {
        h.update(name.as_encoded_bytes());
        h.update(b"\0");
        h.update(sha256.as_bytes());
        h.update(b"\n");
    }
    hex(&h.finalize())
}

/// The digest of a directory's files by name and stat data, or `None` when the platform does
/// not give the stat data of one of them.
pub fn stat_digest<'a>(
    files: impl IntoIterator<Item = (&'a OsStr, Option<Stat>)>,
) -> Option<StatDigest> {
    use sha2::{Digest, Sha256};
    let mut files: Vec<(&OsStr, Stat)> = files
        .into_iter()
        .map(|(name, stat)| Some((name, stat?)))
        .collect::<Option<_>>()?;
    files.sort_unstable_by_key(|(name, _)| *name);
    let mut h = Sha256::new();
    let mut newest = i128::MIN;
    for (name, s) in files {
        h.update(name.as_encoded_bytes());
        h.update(b"\0");
        h.update(s.size.to_le_bytes());
        h.update(s.mtime.to_le_bytes());
        h.update(s.ctime.to_le_bytes());
        h.update(s.ino.to_le_bytes());
        h.update(s.dev.to_le_bytes());
        newest = newest.max(s.mtime).max(s.ctime);
    }
    Some(StatDigest {
        sha256: hex(&h.finalize()),
        newest,
    })
}

/// A file an environment was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    pub path: PathBuf,
    pub sha256: String,
    pub stat: Option<Stat>,
}

/// What loading an environment file gave, so that an unchanged file need not be parsed again.
/// Valid for one template set: the region input digests cover the templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvEntry {
    /// The environment file, as discovered (under the root as given).
    pub file: PathBuf,
    /// Hex of `Renderer::templates_digest`.
    pub templates: String,
    pub name: String,
    /// The file and its `extends` chain.
    pub sources: Vec<SourceEntry>,
    /// Its regions, in order, and the input digest of each.
    pub regions: Vec<String>,
    pub inputs: Vec<String>,
    /// Hex sha256 of the whole loaded environment (see `gate_key`).
    pub digest: String,
}

impl EnvEntry {
    /// The entry of a freshly loaded environment.
    pub fn of(
        environment: &crate::environment::Environment,
        templates: &str,
        inputs: Vec<String>,
    ) -> EnvEntry {
        EnvEntry {
            file: environment.file.clone(),
            templates: templates.to_string(),
            name: environment.name.clone(),
            sources: environment
                .sources
                .iter()
                .map(|(path, sha256)| SourceEntry {
                    path: path.clone(),
                    sha256: sha256.clone(),
                    stat: std::fs::metadata(path).ok().and_then(|m| Stat::of(&m)),
                })
                .collect(),
            regions: environment.regions.iter().map(|r| r.name.clone()).collect(),
            inputs,
            // Serializing plain structs, maps and JSON values into a Vec cannot fail.
            digest: sha256_hex(&serde_json::to_vec(environment).unwrap_or_default()),
        }
    }
}

/// A region directory found to hold exactly what a cache entry says.
#[derive(Debug)]
pub struct Verified {
    /// The stat digest seen this time.
    pub stat: Option<StatDigest>,
    /// Whether the files had to be read, so the cache is worth writing again.
    pub read_any: bool,
    /// The files' bytes, when asked for.
    pub bytes: BTreeMap<String, Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    program: String,
    /// `boot_id`: which boot of the machine the stat data belongs to.
    boot: String,
    out: PathBuf,
    regions: Vec<RegionEntry>,
    environments: Vec<EnvEntry>,
    /// Keys of environments that passed the policy gate (see `gate_key`).
    gates: BTreeSet<String>,
}

/// The cache of renders of one source repository into one output directory.
pub struct Cache {
    file: PathBuf,
    /// Where the new cache is written before it is renamed over the old one; created when the
    /// cache is opened, to learn early that the git directory can be written; its time is
    /// when this run started.
    scratch: PathBuf,
    started: i128,
    program: String,
    boot: String,
    out: PathBuf,
    /// The modification time of the cache file as loaded, that is when the run that wrote it
    /// had recorded every stat it holds: a file whose times are not older than this may have
    /// changed after it was recorded within the same clock tick, so it is read again whatever
    /// its stat data says (git's rule, with the index file's time).
    trusted_before: i128,
    regions: BTreeMap<(String, String), RegionEntry>,
    environments: BTreeMap<PathBuf, EnvEntry>,
    gates: BTreeSet<String>,
}

impl Cache {
    /// Opens the cache for rendering `root`'s sources into `out`, loading what an earlier run
    /// left when `recall` (else it starts empty, as without one: `--force`, or no output
    /// directory for it to describe). `None` when there is no place for one: not in a git
    /// repository, a git directory that cannot be written, or a program whose build cannot be
    /// identified.
    pub fn open(root: &Path, out: &Path, recall: bool) -> Option<Cache> {
        let program = program_id()?;
        let git_dir = git2::Repository::discover(root).ok()?.path().to_path_buf();
        let out = absolute(out)?;
        let dir = git_dir.join("hadr");
        std::fs::create_dir_all(&dir).ok()?;
        let name = format!(
            "render-{}",
            &sha256_hex(out.as_os_str().as_encoded_bytes())[..16]
        );
        let file = dir.join(format!("{name}.cache"));
        let scratch = dir.join(format!("{name}.{}.tmp", std::process::id()));
        let probe = std::fs::File::create(&scratch).ok();
        let Some(started) = probe.and_then(|f| Stat::of(&f.metadata().ok()?)) else {
            let _ = std::fs::remove_file(&scratch);
            return None;
        };
        let mut cache = Cache {
            file,
            scratch,
            started: started.mtime,
            program,
            boot: boot_id(),
            out,
            trusted_before: i128::MIN,
            regions: BTreeMap::new(),
            environments: BTreeMap::new(),
            gates: BTreeSet::new(),
        };
        if let Some((stored, written)) =
            recall
                .then(|| load(&cache.file))
                .flatten()
                .filter(|(s, _)| {
                    s.program == cache.program && s.boot == cache.boot && s.out == cache.out
                })
        {
            cache.trusted_before = written;
            cache.regions = stored
                .regions
                .into_iter()
                .map(|e| ((e.environment.clone(), e.region.clone()), e))
                .collect();
            cache.environments = stored
                .environments
                .into_iter()
                .map(|e| (e.file.clone(), e))
                .collect();
            cache.gates = stored.gates;
        }
        Some(cache)
    }

    /// The entry of a region, when its inputs are the ones it was rendered from.
    pub fn lookup(&self, environment: &str, region: &str, input: &str) -> Option<&RegionEntry> {
        self.regions
            .get(&(environment.to_string(), region.to_string()))
            .filter(|e| e.input == input)
    }

    /// What loading an environment file gave last time, when it was loaded for this template
    /// set and every file it was read from is unchanged (checked as `verify` checks files).
    /// The entry comes back with the stat data seen now, and whether any file had to be read.
    pub fn recall(&self, file: &Path, templates: &str) -> Option<(EnvEntry, bool)> {
        let entry = self.environments.get(file)?;
        if entry.templates != templates {
            return None;
        }
        let mut read_any = false;
        let mut fresh = entry.clone();
        for source in &mut fresh.sources {
            let stat = Stat::of(&std::fs::metadata(&source.path).ok()?);
            let trusted = stat.is_some()
                && stat == source.stat
                && stat.is_some_and(|s| !s.racy(self.trusted_before));
            if !trusted {
                if sha256_hex(&std::fs::read(&source.path).ok()?) != source.sha256 {
                    return None;
                }
                read_any = true;
            }
            source.stat = stat;
        }
        Some((fresh, read_any))
    }

    /// Whether the region directory `dir` holds exactly the entry's files: the same stat
    /// digest as recorded (and no file as new as the cache), or else, read again, the same
    /// content digest. With `want_bytes` every file is read. `listing` is the directory's
    /// entries (`tree::scan`); a subdirectory is never what a render wrote.
    pub fn verify(
        &self,
        entry: &RegionEntry,
        dir: &Path,
        listing: &[(OsString, Metadata)],
        want_bytes: bool,
    ) -> Option<Verified> {
        // Taken before any read: a file changed while it is read does not match it later.
        let stat = stat_digest(listing.iter().map(|(n, m)| (n.as_os_str(), Stat::of(m))));
        let trusted = stat
            .as_ref()
            .is_some_and(|s| Some(s) == entry.stat.as_ref() && s.newest < self.trusted_before);
        if trusted && !want_bytes {
            return Some(Verified {
                stat,
                read_any: false,
                bytes: BTreeMap::new(),
            });
        }
        let mut bytes = BTreeMap::new();
        let mut hashes = Vec::with_capacity(listing.len());
        for (name, meta) in listing {
            if meta.is_dir() {
                return None;
            }
            let read = std::fs::read(dir.join(name)).ok()?;
            hashes.push((name.as_os_str(), sha256_hex(&read)));
            if want_bytes {
                bytes.insert(name.to_str()?.to_string(), read);
            }
        }
        if content_digest(hashes.iter().map(|(n, h)| (*n, h.as_str()))) != entry.content {
            return None;
        }
        Some(Verified {
            stat,
            // Files read only for their bytes were already proven: nothing new to record.
            read_any: !trusted,
            bytes,
        })
    }

    /// Whether the cache holds this many region and environment entries and no more: with
    /// every one of them looked up this run, that is exactly those.
    pub fn holds_only(&self, regions: usize, environments: usize) -> bool {
        self.regions.len() == regions && self.environments.len() == environments
    }

    /// Whether an environment passed the policy gate with exactly these inputs.
    pub fn gate_passed(&self, key: &str) -> bool {
        self.gates.contains(key)
    }

    /// Replaces the entries by these (a full render), or by these and the old ones of other
    /// regions and environment files (`keep_others`: a render of some environments or one
    /// region), records the environments that passed the gate, and writes the cache when that
    /// changed anything or `read_any` (files were read whose stat data the rewritten cache will
    /// let be trusted). A failure to write only means the next render will not find it.
    pub fn save(
        mut self,
        regions: Vec<RegionEntry>,
        environments: Vec<EnvEntry>,
        gates_passed: Vec<String>,
        read_any: bool,
        keep_others: bool,
    ) {
        let mut new_regions = if keep_others {
            self.regions.clone()
        } else {
            BTreeMap::new()
        };
        new_regions.extend(
            regions
                .into_iter()
                .map(|e| ((e.environment.clone(), e.region.clone()), e)),
        );
        let mut new_environments = if keep_others {
            self.environments.clone()
        } else {
            BTreeMap::new()
        };
        new_environments.extend(environments.into_iter().map(|mut e| {
            // A loaded file is stat-ed after it was read: if it changed during this run, that
            // stat may describe bytes other than those hashed, so it is read again next time.
            for source in &mut e.sources {
                if source.stat.is_some_and(|s| s.racy(self.started)) {
                    source.stat = None;
                }
            }
            (e.file.clone(), e)
        }));
        let new_gates = gates_passed.iter().any(|g| !self.gates.contains(g));
        if !read_any
            && !new_gates
            && new_regions == self.regions
            && new_environments == self.environments
        {
            return;
        }
        let mut gates = std::mem::take(&mut self.gates);
        gates.extend(gates_passed);
        let stored = Stored {
            program: std::mem::take(&mut self.program),
            boot: std::mem::take(&mut self.boot),
            out: std::mem::take(&mut self.out),
            regions: new_regions.into_values().collect(),
            environments: new_environments.into_values().collect(),
            gates,
        };
        let body = serde_json::to_vec(&stored).unwrap_or_default();
        let header = format!("{MAGIC} {}\n", sha256_hex(&body));
        // Not synced: a cache cut short by a crash fails its checksum and is ignored. On a
        // failure the old cache stays, which is sound: it describes files by their content.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.scratch)
            .and_then(|mut f| {
                f.write_all(header.as_bytes())?;
                f.write_all(&body)
            })
            .and_then(|()| std::fs::rename(&self.scratch, &self.file));
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        // After a save the scratch file is the cache itself, renamed: this finds nothing.
        let _ = std::fs::remove_file(&self.scratch);
    }
}

/// Reads a cache file and its modification time, or `None` when it is not one whose checksum
/// holds or the platform does not give the time.
fn load(file: &Path) -> Option<(Stored, i128)> {
    use std::io::Read;
    let mut f = std::fs::File::open(file).ok()?;
    // The time of the file as opened, so that it belongs to the bytes read.
    let written = Stat::of(&f.metadata().ok()?)?.mtime;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    Some((parse(&bytes)?, written))
}

/// Parses the bytes of a cache file, or `None` when it is not one whose checksum holds.
fn parse(bytes: &[u8]) -> Option<Stored> {
    let newline = bytes.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&bytes[..newline]).ok()?;
    let sum = header.strip_prefix(MAGIC)?.strip_prefix(' ')?;
    let body = &bytes[newline + 1..];
    if sha256_hex(body) != sum {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// The cache key of an environment's policy gate: everything `policy::validate` reads, that is
/// the whole environment (`EnvEntry::digest`) and the rendered sets (fixed by their regions'
/// input digests).
pub fn gate_key(environment_digest: &str, inputs: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"kubectl-hadr gate v1\0");
    h.update(environment_digest.as_bytes());
    h.update(b"\0");
    for input in inputs {
        h.update(input.as_bytes());
        h.update(b"\0");
    }
    hex(&h.finalize())
}

/// Which build of the program this is: its version and what `stat` says of its executable, so
/// a rebuilt or reinstalled binary (whose templates or code may render differently) starts
/// from an empty cache.
fn program_id() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let stat = Stat::of(&std::fs::metadata(exe).ok()?)?;
    Some(format!(
        "{} {} {} {} {}",
        env!("CARGO_PKG_VERSION"),
        stat.size,
        stat.mtime,
        stat.ino,
        stat.dev
    ))
}

/// Which boot of the machine this is: Linux's random `boot_id`, new at every boot (proc(5),
/// `/proc/sys/kernel/random/boot_id`). Elsewhere the empty string, and a cache outlives a
/// reboot there: a power loss can leave a file whose stat data the cache still trusts.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// An absolute, symlink-free form of a path that may not exist yet (its parent must).
fn absolute(path: &Path) -> Option<PathBuf> {
    // The output directory (and its parents) may not exist before the first render: resolve
    // the nearest ancestor that does and append the rest, so the key is the same before and
    // after render creates them (otherwise the first render into a new tree saves a cache
    // that no later render finds).
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let mut missing = Vec::new();
    let mut existing = path.as_path();
    loop {
        if let Ok(resolved) = existing.canonicalize() {
            return Some(missing.iter().rev().fold(resolved, |p, c| p.join(c)));
        }
        // `..` or `.` below a missing directory: no stable key, so no cache.
        missing.push(existing.file_name()?.to_os_string());
        existing = existing.parent()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> Stored {
        Stored {
            program: "p".into(),
            boot: "b".into(),
            out: PathBuf::from("/o"),
            regions: vec![],
            environments: vec![],
            gates: BTreeSet::from(["g".to_string()]),
        }
    }

    fn file_bytes(s: &Stored) -> Vec<u8> {
        let body = serde_json::to_vec(s).unwrap();
        let mut out = format!("{MAGIC} {}\n", sha256_hex(&body)).into_bytes();
        out.extend(body);
        out
    }

    #[test]
    fn the_key_of_an_output_directory_is_the_same_before_and_after_it_exists() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("not/yet/there");
        let before = absolute(&out).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        assert_eq!(before, absolute(&out).unwrap());
        assert_eq!(absolute(&root.path().join("gone/../x")), None);
    }

    #[test]
    fn a_cache_file_reads_back_only_when_its_checksum_holds() {
        let good = file_bytes(&stored());
        assert_eq!(parse(&good).unwrap().gates.len(), 1);
        // One byte changed in the body, the header kept.
        let mut flipped = good.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 1;
        assert!(parse(&flipped).is_none());
        // Cut short, as by a crash in the middle of a write.
        assert!(parse(&good[..good.len() / 2]).is_none());
        assert!(parse(b"").is_none());
        assert!(parse(b"something else\n{}").is_none());
    }

    /// A region directory with one file, as a render leaves it, and its cache entry.
    fn region_with_one_file(out: &Path) -> RegionEntry {
        let dir = out.join("env/region");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.yaml"), "a: 1\n").unwrap();
        let name = OsStr::new("a.yaml");
        let stat = Stat::of(&std::fs::metadata(dir.join("a.yaml")).unwrap());
        RegionEntry {
            environment: "env".into(),
            region: "region".into(),
            input: "i".into(),
            digest: "d".into(),
            objects: 1,
            warnings: vec![],
            content: content_digest([(name, sha256_hex(b"a: 1\n").as_str())]),
            stat: stat_digest([(name, stat)]),
        }
    }

    fn listing(dir: &Path) -> Vec<(OsString, Metadata)> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name(), e.metadata().unwrap())
            })
            .collect()
    }

    #[test]
    fn files_recorded_before_the_cache_was_written_are_trusted_by_the_next_run() {
        let root = tempfile::tempdir().unwrap();
        git2::Repository::init(root.path()).unwrap();
        let out = root.path().join("rendered");
        let entry = region_with_one_file(&out);
        // Past any coarse clock tick, so that the cache is written in a later one.
        std::thread::sleep(std::time::Duration::from_millis(50));
        Cache::open(root.path(), &out, true).unwrap().save(
            vec![entry.clone()],
            vec![],
            vec![],
            false,
            false,
        );

        let cache = Cache::open(root.path(), &out, true).unwrap();
        let dir = out.join("env/region");
        let verified = cache.verify(&entry, &dir, &listing(&dir), false).unwrap();
        assert!(!verified.read_any, "the file was read again");

        // Changed after the cache was written: its stat data differs, so it is read, and a
        // different content fails the proof.
        std::fs::write(dir.join("a.yaml"), "a: 2\n").unwrap();
        assert!(cache.verify(&entry, &dir, &listing(&dir), false).is_none());
        // Written back with the same bytes: read, and proven by content.
        std::fs::write(dir.join("a.yaml"), "a: 1\n").unwrap();
        let verified = cache.verify(&entry, &dir, &listing(&dir), false).unwrap();
        assert!(verified.read_any);
        // One more file is not what the render wrote.
        std::fs::write(dir.join("b.yaml"), "").unwrap();
        assert!(cache.verify(&entry, &dir, &listing(&dir), false).is_none());
    }

    #[test]
    fn a_cache_written_before_the_last_boot_is_empty() {
        let root = tempfile::tempdir().unwrap();
        git2::Repository::init(root.path()).unwrap();
        let out = root.path().join("rendered");
        let entry = region_with_one_file(&out);
        let cache = Cache::open(root.path(), &out, true).unwrap();
        let file = cache.file.clone();
        cache.save(vec![entry], vec![], vec![], false, false);
        let found = |out: &Path| {
            let cache = Cache::open(root.path(), out, true).unwrap();
            cache.lookup("env", "region", "i").is_some()
        };
        assert!(found(&out), "the cache of this boot was not found");

        let mut stored = parse(&std::fs::read(&file).unwrap()).unwrap();
        stored.boot = "an earlier boot".into();
        std::fs::write(&file, file_bytes(&stored)).unwrap();
        assert!(!found(&out), "stat data of an earlier boot was trusted");
    }

    #[test]
    fn an_environment_file_changed_during_the_run_is_read_again_next_time() {
        let root = tempfile::tempdir().unwrap();
        git2::Repository::init(root.path()).unwrap();
        let out = root.path().join("rendered");
        let cache = Cache::open(root.path(), &out, true).unwrap();
        // Written after the run started, as by an editor saving while the render loads it.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let file = root.path().join("env.yaml");
        std::fs::write(&file, "name: env\n").unwrap();
        let entry = EnvEntry {
            file: file.clone(),
            templates: "t".into(),
            name: "env".into(),
            sources: vec![SourceEntry {
                path: file.clone(),
                sha256: sha256_hex(b"name: env\n"),
                stat: Stat::of(&std::fs::metadata(&file).unwrap()),
            }],
            regions: vec![],
            inputs: vec![],
            digest: "d".into(),
        };
        // The cache written in a later tick, so that only the run's start can tell.
        std::thread::sleep(std::time::Duration::from_millis(50));
        cache.save(vec![], vec![entry], vec![], false, false);
        let cache = Cache::open(root.path(), &out, true).unwrap();
        let (_, read_any) = cache.recall(&file, "t").unwrap();
        assert!(read_any, "a stat taken after the read was trusted");
    }

    #[test]
    fn files_changed_at_or_after_the_reference_time_are_racy() {
        let s = Stat {
            size: 1,
            mtime: 10,
            ctime: 10,
            ino: 1,
            dev: 1,
        };
        assert!(s.racy(10));
        assert!(s.racy(9));
        assert!(!s.racy(11));
        assert!(Stat { ctime: 11, ..s }.racy(11));
    }
}
