//! The disk spool: append-only segment files of checksummed records, read back in order,
//! deleted once every record in them is acknowledged, and found again after a restart.
//!
//! Layout in the spool directory:
//! - `seg-<20-digit id>.spool`: the header `HTSPOOL1`, then records `[len: u32 LE]
//!   [crc32 of payload: u32 LE][payload]`; segments are read in id order;
//! - `seg-<id>.ack`: how far the segment has been delivered (`offset: u64 LE`, `crc32: u32
//!   LE`), replaced atomically (write then rename).
//!
//! A record whose checksum is wrong while its length keeps it inside the segment is skipped
//! and counted as a corrupt record; reading goes on with the record after it. A segment
//! whose header or a record's length is wrong, or that ends inside a record, is counted as
//! corrupt and removed (its records after that point cannot be found); reading goes on with
//! the next one. So is a segment whose file is gone or shorter than recorded.
//!
//! Any other error reading a segment (too many open files, an I/O error) may pass: the
//! segment is kept and the read is tried again at the next replay. A segment that fails
//! `MAX_READ_FAILURES` (3) reads in a row is counted as corrupt and removed, so that it cannot
//! hold up the segments after it for good.
//!
//! An append that fails (a full disk, a failed sync) is reported, and its spans counted as
//! dropped: the segment is cut back to the records counted before it, so that nothing of it
//! is left to be replayed, and closed, so that the next append starts a new segment (a new
//! segment whose header could not be written is deleted). When the cut fails too, what was
//! written stays after the segment's counted end: never read by this process, it may be
//! found after a restart (a whole record is then delivered although it was counted
//! dropped; a partial one makes the segment count as corrupt once read up to it).

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const HEADER: &[u8; 8] = b"HTSPOOL1";
const RECORD_HEADER: u64 = 8;
/// A length above this is corruption, not a batch.
const MAX_RECORD: u64 = 256 * 1024 * 1024;
/// Ids start in the middle of the range so segments can also be added before the oldest.
const FIRST_ID: u64 = 1 << 40;
/// Reads of a segment in a row that may fail with an error that can pass before the segment
/// is counted as corrupt and removed.
const MAX_READ_FAILURES: u32 = 3;

#[derive(Debug)]
struct Segment {
    id: u64,
    size: u64,
    /// The offset up to which records are delivered.
    acked: u64,
    /// Records not yet delivered.
    records: u64,
    /// Found at start-up: left by a previous process.
    inherited: bool,
    /// Reads of the record at `acked` that failed in a row with an error that can pass.
    read_failures: u32,
}

/// A record read from the spool, to be acknowledged once delivered.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) payload: Vec<u8>,
    /// Spooled by a previous process: its spans were never received by this one.
    pub(crate) inherited: bool,
    segment: u64,
    end: u64,
}

/// What reading the record at an offset found.
enum Found {
    Record(Record),
    /// A record whose payload fails its checksum, ending at `end`: the frame around it is
    /// sound, so the records after it can still be read.
    Garbled {
        end: u64,
    },
    /// A header or length that makes the rest of the segment unreadable.
    Corrupt,
}

/// Settings of the spool.
#[derive(Clone, Debug)]
pub(crate) struct SpoolConfig {
    pub(crate) dir: PathBuf,
    pub(crate) max_bytes: u64,
    pub(crate) segment_bytes: u64,
    pub(crate) sync: bool,
}

/// A fault the tests make the next append meet.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The write fails after this many bytes of the record.
    WriteAfter(usize),
    /// The write succeeds, the sync fails.
    Sync,
}

/// Why an append did not happen.
#[derive(Debug)]
pub(crate) enum AppendError {
    Full,
    Io(io::Error),
}

#[derive(Debug)]
pub(crate) struct Spool {
    config: SpoolConfig,
    segments: VecDeque<Segment>,
    /// The segment appends go to: the last one, created by this process.
    writer: Option<(u64, File)>,
    /// The lowest and highest ids used by this process or found on disk (segments and acks
    /// alike). New ids go outside this range, never back into it: a segment or an ack whose
    /// removal failed would otherwise refuse the new segment or lend it a stale offset.
    used_ids: Option<(u64, u64)>,
    total_bytes: u64,
    corrupt_segments: u64,
    corrupt_records: u64,
    #[cfg(test)]
    fault: Option<Fault>,
}

impl Spool {
    /// Opens (creating) the spool directory and finds the segments a previous process left.
    pub(crate) fn open(config: SpoolConfig) -> io::Result<Spool> {
        fs::create_dir_all(&config.dir)?;
        let mut ids = Vec::new();
        let mut acks = Vec::new();
        let mut used_ids = None;
        for entry in fs::read_dir(&config.dir)?.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            let Some((id, is_segment)) = name.to_str().and_then(parse_file_name) else {
                continue;
            };
            used_ids = Some(widen(used_ids, id));
            if is_segment {
                ids.push(id);
            } else {
                acks.push(id);
            }
        }
        ids.sort_unstable();
        for ack in acks.into_iter().filter(|id| ids.binary_search(id).is_err()) {
            // Its segment is gone; its id stays used all the same (see `used_ids`).
            let _ = fs::remove_file(config.dir.join(format!("seg-{ack:020}.ack")));
        }
        let mut spool = Spool {
            config,
            segments: VecDeque::new(),
            writer: None,
            used_ids,
            total_bytes: 0,
            corrupt_segments: 0,
            corrupt_records: 0,
            #[cfg(test)]
            fault: None,
        };
        for id in ids {
            let size = fs::metadata(spool.segment_path(id))?.len();
            let acked = spool.read_ack(id).unwrap_or(HEADER.len() as u64).min(size);
            let records = spool.count_records(id, acked, size);
            spool.total_bytes += size;
            spool.segments.push_back(Segment {
                id,
                size,
                acked,
                records,
                inherited: true,
                read_failures: 0,
            });
        }
        Ok(spool)
    }

    fn segment_path(&self, id: u64) -> PathBuf {
        self.config.dir.join(format!("seg-{id:020}.spool"))
    }

    fn ack_path(&self, id: u64) -> PathBuf {
        self.config.dir.join(format!("seg-{id:020}.ack"))
    }

    fn read_ack(&self, id: u64) -> Option<u64> {
        let bytes = fs::read(self.ack_path(id)).ok()?;
        let (offset, crc) = bytes.split_at_checked(8)?;
        let crc = u32::from_le_bytes(crc.get(..4)?.try_into().ok()?);
        let value = u64::from_le_bytes(offset.try_into().ok()?);
        (crc32fast::hash(offset) == crc).then_some(value)
    }

    /// Counts the records after `from` by their lengths (checksums are checked when read).
    fn count_records(&self, id: u64, mut from: u64, size: u64) -> u64 {
        let Ok(mut file) = File::open(self.segment_path(id)) else {
            return 0;
        };
        let mut n = 0;
        let mut header = [0u8; 8];
        while from + RECORD_HEADER <= size {
            if file.seek(SeekFrom::Start(from)).is_err() || file.read_exact(&mut header).is_err() {
                break;
            }
            let len = u64::from(u32::from_le_bytes([
                header[0], header[1], header[2], header[3],
            ]));
            from += RECORD_HEADER + len;
            if from > size {
                break;
            }
            n += 1;
        }
        n
    }

    /// Bytes on disk, delivered records included until their segment is removed.
    pub(crate) fn bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Records waiting.
    pub(crate) fn records(&self) -> u64 {
        self.segments.iter().map(|s| s.records).sum()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records() == 0
    }

    /// Corrupt segments found since the last call.
    pub(crate) fn take_corrupt(&mut self) -> u64 {
        std::mem::take(&mut self.corrupt_segments)
    }

    /// Records skipped for a wrong checksum since the last call.
    pub(crate) fn take_corrupt_records(&mut self) -> u64 {
        std::mem::take(&mut self.corrupt_records)
    }

    fn record_bytes(payload: &[u8]) -> Vec<u8> {
        let mut record = Vec::with_capacity(payload.len() + 8);
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        record.extend_from_slice(payload);
        record
    }

    fn create_segment(&mut self, id: u64) -> io::Result<File> {
        // Taken even if the creation fails: a file may have been left at it.
        self.used_ids = Some(widen(self.used_ids, id));
        let path = self.segment_path(id);
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        if let Err(e) = self.write_bytes(&mut file, HEADER) {
            // Left there, the file would refuse every later append at this id.
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Ok(file)
    }

    fn check_room(&self, adding: u64) -> Result<(), AppendError> {
        if self.total_bytes + adding > self.config.max_bytes {
            return Err(AppendError::Full);
        }
        Ok(())
    }

    /// Appends one record after everything spooled.
    pub(crate) fn append(&mut self, payload: &[u8]) -> Result<(), AppendError> {
        if payload.len() as u64 > MAX_RECORD {
            return Err(AppendError::Full);
        }
        let record = Self::record_bytes(payload);
        let roll = match (&self.writer, self.segments.back()) {
            (Some((id, _)), Some(last)) => last.id != *id || last.size >= self.config.segment_bytes,
            _ => true,
        };
        let header = if roll { HEADER.len() as u64 } else { 0 };
        self.check_room(record.len() as u64 + header)?;
        if roll {
            let id = match self.used_ids {
                Some((_, highest)) => highest.checked_add(1).ok_or_else(|| {
                    AppendError::Io(io::Error::other("no segment id left after the newest"))
                })?,
                None => FIRST_ID,
            };
            let file = self.create_segment(id).map_err(AppendError::Io)?;
            self.segments.push_back(Segment {
                id,
                size: header,
                acked: header,
                records: 0,
                inherited: false,
                read_failures: 0,
            });
            self.total_bytes += header;
            self.writer = Some((id, file));
        }
        if let Err(e) = self.write_record(&record) {
            self.abandon_writer();
            return Err(AppendError::Io(e));
        }
        if let Some(last) = self.segments.back_mut() {
            last.size += record.len() as u64;
            last.records += 1;
        }
        self.total_bytes += record.len() as u64;
        Ok(())
    }

    /// `file.write_all(bytes)`, where a test's `Fault::WriteAfter` makes the write fail.
    fn write_bytes(&mut self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        #[cfg(test)]
        if let Some(Fault::WriteAfter(n)) = self.fault {
            self.fault = None;
            file.write_all(&bytes[..n.min(bytes.len())])?;
            return Err(io::Error::other("test fault: write failed"));
        }
        file.write_all(bytes)
    }

    /// Writes `record` at the end of the writer's segment, synced when so configured.
    fn write_record(&mut self, record: &[u8]) -> io::Result<()> {
        let (id, mut file) = self
            .writer
            .take()
            .ok_or_else(|| io::Error::other("no spool segment open"))?;
        let written = self.write_bytes(&mut file, record).and_then(|()| {
            #[cfg(test)]
            if let Some(Fault::Sync) = self.fault.take() {
                return Err(io::Error::other("test fault: sync failed"));
            }
            if self.config.sync {
                file.sync_data()?;
            }
            Ok(())
        });
        self.writer = Some((id, file));
        written
    }

    /// After a failed append: cuts the writer's segment back to its counted size, so that
    /// no partial or unsynced record stays, and closes it, so that the next append starts a
    /// new segment instead of writing after bytes the offsets do not count.
    fn abandon_writer(&mut self) {
        let Some((id, file)) = self.writer.take() else {
            return;
        };
        if let Some(seg) = self.segments.back().filter(|s| s.id == id)
            && file.set_len(seg.size).is_ok()
            && self.config.sync
        {
            let _ = file.sync_data();
        }
    }

    /// Writes `payloads` into a new segment read before every other: for batches older than
    /// what is spooled (the memory buffer, at shutdown). All or nothing.
    pub(crate) fn prepend(&mut self, payloads: &[Vec<u8>]) -> Result<(), AppendError> {
        if payloads.is_empty() {
            return Ok(());
        }
        if payloads.iter().any(|p| p.len() as u64 > MAX_RECORD) {
            return Err(AppendError::Full);
        }
        // One new segment either way, so that nothing stays when the batches do not all fit.
        let id = match self.used_ids {
            Some((lowest, _)) => lowest.checked_sub(1).ok_or_else(|| {
                AppendError::Io(io::Error::other("no segment id left before the oldest"))
            })?,
            None => FIRST_ID,
        };
        let records: Vec<Vec<u8>> = payloads.iter().map(|p| Self::record_bytes(p)).collect();
        let size = HEADER.len() as u64 + records.iter().map(|r| r.len() as u64).sum::<u64>();
        self.check_room(size)?;
        let written = self.create_segment(id).and_then(|mut file| {
            for r in &records {
                file.write_all(r)?;
            }
            if self.config.sync {
                file.sync_data()?;
            }
            Ok(())
        });
        if let Err(e) = written {
            let _ = fs::remove_file(self.segment_path(id));
            return Err(AppendError::Io(e));
        }
        self.segments.push_front(Segment {
            id,
            size,
            acked: HEADER.len() as u64,
            records: records.len() as u64,
            inherited: false,
            read_failures: 0,
        });
        self.total_bytes += size;
        Ok(())
    }

    fn is_writer(&self, id: u64) -> bool {
        self.writer.as_ref().is_some_and(|(w, _)| *w == id)
    }

    fn remove_front(&mut self, corrupt: bool) {
        if let Some(seg) = self.segments.pop_front() {
            if self.is_writer(seg.id) {
                self.writer = None;
            }
            let _ = fs::remove_file(self.segment_path(seg.id));
            let _ = fs::remove_file(self.ack_path(seg.id));
            self.total_bytes = self.total_bytes.saturating_sub(seg.size);
            if corrupt {
                self.corrupt_segments += 1;
            }
        }
    }

    /// The oldest record not yet delivered, skipping (and counting) corrupt segments.
    ///
    /// `None` also when the oldest segment could not be read this time for a reason that may
    /// pass: its records still wait (`is_empty` is false) and the next peek tries again.
    pub(crate) fn peek(&mut self) -> Option<Record> {
        loop {
            let seg = self.segments.front()?;
            let (id, acked, size, inherited) = (seg.id, seg.acked, seg.size, seg.inherited);
            if acked >= size {
                if self.is_writer(id) {
                    return None;
                }
                self.remove_front(false);
                continue;
            }
            let found = self.read_record(id, acked, size, inherited);
            let seg = self.segments.front_mut()?;
            match found {
                Ok(Found::Record(record)) => {
                    seg.read_failures = 0;
                    return Some(record);
                }
                Ok(Found::Garbled { end }) => {
                    seg.read_failures = 0;
                    seg.acked = end;
                    seg.records = seg.records.saturating_sub(1);
                    self.corrupt_records += 1;
                }
                Ok(Found::Corrupt) => self.remove_front(true),
                // The file is gone, or ends before the size it had: what was there is lost.
                Err(e) if is_lost(&e) => self.remove_front(true),
                Err(_) => {
                    seg.read_failures += 1;
                    if seg.read_failures < MAX_READ_FAILURES {
                        return None;
                    }
                    self.remove_front(true);
                }
            }
        }
    }

    /// Reads the record at `offset` of segment `id`.
    fn read_record(&self, id: u64, offset: u64, size: u64, inherited: bool) -> io::Result<Found> {
        let mut file = File::open(self.segment_path(id))?;
        if offset == HEADER.len() as u64 {
            let mut header = [0u8; 8];
            file.read_exact(&mut header)?;
            if &header != HEADER {
                return Ok(Found::Corrupt);
            }
        }
        if offset + RECORD_HEADER > size {
            return Ok(Found::Corrupt);
        }
        file.seek(SeekFrom::Start(offset))?;
        let mut head = [0u8; 8];
        file.read_exact(&mut head)?;
        let len = u64::from(u32::from_le_bytes([head[0], head[1], head[2], head[3]]));
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let end = offset + RECORD_HEADER + len;
        if len > MAX_RECORD || end > size {
            return Ok(Found::Corrupt);
        }
        let mut payload = vec![0u8; len as usize];
        file.read_exact(&mut payload)?;
        if crc32fast::hash(&payload) != crc {
            return Ok(Found::Garbled { end });
        }
        Ok(Found::Record(Record {
            payload,
            inherited,
            segment: id,
            end,
        }))
    }

    /// Marks `record` delivered (or unusable): the next peek reads past it.
    pub(crate) fn ack(&mut self, record: &Record) -> io::Result<()> {
        let Some(seg) = self.segments.front_mut() else {
            return Ok(());
        };
        if seg.id != record.segment {
            return Ok(());
        }
        seg.acked = record.end;
        seg.records = seg.records.saturating_sub(1);
        let (id, done) = (seg.id, seg.acked >= seg.size);
        if done && !self.is_writer(id) {
            self.remove_front(false);
            return Ok(());
        }
        let mut bytes = record.end.to_le_bytes().to_vec();
        bytes.extend_from_slice(&crc32fast::hash(&record.end.to_le_bytes()).to_le_bytes());
        write_atomically(&self.ack_path(id), &bytes)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.config.dir
    }
}

/// The id of a file the spool writes (`seg-<20 digits>.spool` or `.ack`), and whether it is a
/// segment. Another name that parses to an id (`seg-5.spool`) is not at that id's path.
fn parse_file_name(name: &str) -> Option<(u64, bool)> {
    let rest = name.strip_prefix("seg-")?;
    let (digits, is_segment) = match rest.strip_suffix(".spool") {
        Some(digits) => (digits, true),
        None => (rest.strip_suffix(".ack")?, false),
    };
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, is_segment))
}

/// `range` extended to hold `id`.
fn widen(range: Option<(u64, u64)>, id: u64) -> (u64, u64) {
    match range {
        Some((lowest, highest)) => (lowest.min(id), highest.max(id)),
        None => (id, id),
    }
}

/// Whether a read error means the segment's bytes are gone, rather than unreadable for now.
fn is_lost(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::NotFound
    )
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("ack.tmp");
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> SpoolConfig {
        SpoolConfig {
            dir: dir.to_path_buf(),
            max_bytes: 10_000,
            segment_bytes: 64,
            sync: false,
        }
    }

    fn drain(spool: &mut Spool) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(r) = spool.peek() {
            spool.ack(&r).expect("ack");
            out.push(r.payload);
        }
        out
    }

    #[test]
    fn records_come_back_in_order_across_segments_and_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spool = Spool::open(config(dir.path())).expect("open");
        let payloads: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 20]).collect();
        for p in &payloads {
            spool.append(p).expect("append");
        }
        assert!(spool.segments.len() > 2, "small segments roll");
        assert_eq!(spool.records(), 10);
        for expected in &payloads[..3] {
            let r = spool.peek().expect("record");
            assert_eq!(&r.payload, expected);
            spool.ack(&r).expect("ack");
        }
        drop(spool);

        let mut spool = Spool::open(config(dir.path())).expect("reopen");
        assert_eq!(spool.records(), 7);
        spool.prepend(&[vec![99; 5]]).expect("prepend");
        spool.append(&[100; 5]).expect("append");
        let mut rest = Vec::new();
        while let Some(r) = spool.peek() {
            spool.ack(&r).expect("ack");
            rest.push((r.payload, r.inherited));
        }
        assert_eq!(rest[0], (vec![99; 5], false), "prepended by this process");
        let inherited: Vec<(Vec<u8>, bool)> =
            payloads[3..].iter().map(|p| (p.clone(), true)).collect();
        assert_eq!(&rest[1..8], &inherited[..], "left by the previous process");
        assert_eq!(rest[8], (vec![100; 5], false), "appended by this process");
        assert!(spool.is_empty());
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        left.sort();
        let writer = spool.writer.as_ref().map(|(id, _)| *id).expect("a writer");
        assert_eq!(
            left,
            [
                format!("seg-{writer:020}.ack"),
                format!("seg-{writer:020}.spool")
            ],
            "delivered segments are deleted, but for the one appends go to"
        );
    }

    #[test]
    fn corrupt_and_truncated_segments_are_skipped_and_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spool = Spool::open(config(dir.path())).expect("open");
        for i in 0..6u8 {
            spool.append(&[i; 30]).expect("append");
        }
        drop(spool);
        let mut files: Vec<PathBuf> = fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        assert!(files.len() >= 3);
        // Flip a payload byte in the first segment, cut the second mid-record.
        let mut first = fs::read(&files[0]).expect("read");
        let last = first.len() - 1;
        first[last] ^= 0xff;
        fs::write(&files[0], first).expect("write");
        let second = fs::read(&files[1]).expect("read");
        fs::write(&files[1], &second[..second.len() - 3]).expect("write");

        let mut spool = Spool::open(config(dir.path())).expect("reopen");
        let got = drain(&mut spool);
        // The flipped byte costs its record; the cut costs the rest of its segment.
        assert_eq!(spool.take_corrupt_records(), 1);
        assert_eq!(spool.take_corrupt(), 1);
        assert!(got.iter().all(|p| p.len() == 30));
        assert_eq!(got.last(), Some(&vec![5u8; 30]));
    }

    #[test]
    fn a_record_failing_its_checksum_costs_only_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spool = Spool::open(SpoolConfig {
            segment_bytes: 1 << 20,
            ..config(dir.path())
        })
        .expect("open");
        for i in 0..3u8 {
            spool.append(&[i; 10]).expect("append");
        }
        assert_eq!(spool.segments.len(), 1);
        drop(spool);
        let path = dir.path().join(format!("seg-{FIRST_ID:020}.spool"));
        let mut bytes = fs::read(&path).expect("read");
        // A byte of the second record's payload: its frame (the length) is intact.
        bytes[8 + 18 + 8 + 3] ^= 0xff;
        fs::write(&path, bytes).expect("write");

        let mut spool = Spool::open(config(dir.path())).expect("reopen");
        assert_eq!(drain(&mut spool), vec![vec![0; 10], vec![2; 10]]);
        assert_eq!(spool.take_corrupt_records(), 1);
        assert_eq!(spool.take_corrupt(), 0);
    }

    #[test]
    fn the_byte_cap_refuses_appends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spool = Spool::open(SpoolConfig {
            max_bytes: 100,
            ..config(dir.path())
        })
        .expect("open");
        spool.append(&[1; 40]).expect("fits");
        assert!(matches!(spool.append(&[2; 60]), Err(AppendError::Full)));
        assert_eq!(drain(&mut spool), vec![vec![1; 40]]);
    }

    #[test]
    fn prepending_to_an_empty_spool_is_all_or_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spool = Spool::open(SpoolConfig {
            max_bytes: 100,
            ..config(dir.path())
        })
        .expect("open");
        // The first batch fits, the second does not: neither may stay, as the caller
        // counts them all dropped.
        assert!(matches!(
            spool.prepend(&[vec![1; 40], vec![2; 40]]),
            Err(AppendError::Full)
        ));
        assert_eq!(spool.records(), 0);
        assert_eq!(spool.bytes(), 0);
        assert!(spool.peek().is_none());
        // Batches that fit are read first, before later appends.
        spool.prepend(&[vec![3; 10], vec![4; 10]]).expect("fits");
        spool.append(&[5; 10]).expect("fits");
        assert_eq!(
            drain(&mut spool),
            vec![vec![3; 10], vec![4; 10], vec![5; 10]]
        );
    }

    #[test]
    fn files_named_almost_like_segments_do_not_stop_the_spool() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spool = Spool::open(config(dir.path())).expect("open");
        spool.append(b"kept").expect("append");
        drop(spool);
        // Names that parse as a number but are not the spool's own.
        for name in [
            "seg-5.spool",
            "seg-+7.spool",
            "seg-0000000000000000000009.spool",
        ] {
            fs::write(dir.path().join(name), b"HTSPOOL1").expect("w");
        }
        let mut spool = Spool::open(config(dir.path())).expect("opens despite them");
        assert_eq!(drain(&mut spool), vec![b"kept".to_vec()]);
        assert_eq!(spool.take_corrupt(), 0);

        // The last id there is: a segment after it cannot be numbered, and says so.
        fs::write(
            dir.path().join(format!("seg-{}.spool", u64::MAX)),
            b"HTSPOOL1",
        )
        .expect("w");
        let mut spool = Spool::open(config(dir.path())).expect("open");
        assert!(matches!(spool.append(b"x"), Err(AppendError::Io(_))));
    }

    /// Spools two records in one segment, reopens the spool (as after a restart), and puts a
    /// directory where the segment file was: opening it succeeds, reading it fails with an
    /// error that is neither `UnexpectedEof` nor `NotFound`. Returns the spool, the segment
    /// path and where the file was moved.
    fn spool_with_unreadable_segment(dir: &Path) -> (Spool, PathBuf, PathBuf) {
        let mut spool = Spool::open(SpoolConfig {
            segment_bytes: 1 << 20,
            ..config(dir)
        })
        .expect("open");
        spool.append(&[1; 10]).expect("append");
        spool.append(&[2; 10]).expect("append");
        drop(spool);
        let spool = Spool::open(config(dir)).expect("reopen");
        let path = dir.join(format!("seg-{FIRST_ID:020}.spool"));
        let moved = dir.join("moved-away");
        fs::rename(&path, &moved).expect("move the segment away");
        fs::create_dir(&path).expect("a directory in its place");
        let err = spool
            .read_record(FIRST_ID, HEADER.len() as u64, 64, true)
            .err()
            .expect("a directory cannot be read as a segment");
        assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
        assert!(!is_lost(&err), "an error that can pass");
        (spool, path, moved)
    }

    #[test]
    fn a_read_error_that_can_pass_keeps_the_segment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut spool, path, moved) = spool_with_unreadable_segment(dir.path());
        assert!(spool.peek().is_none(), "nothing readable now");
        assert_eq!(spool.take_corrupt(), 0, "not counted as corrupt");
        assert_eq!(spool.records(), 2, "its records still wait");
        assert!(!spool.is_empty());

        fs::remove_dir(&path).expect("rmdir");
        fs::rename(&moved, &path).expect("put the segment back");
        assert_eq!(drain(&mut spool), vec![vec![1; 10], vec![2; 10]]);
        assert_eq!(spool.take_corrupt(), 0);
    }

    #[test]
    fn a_segment_that_keeps_failing_is_dropped_and_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut spool, _, _) = spool_with_unreadable_segment(dir.path());
        for _ in 1..MAX_READ_FAILURES {
            assert!(spool.peek().is_none());
            assert_eq!(spool.take_corrupt(), 0);
            assert_eq!(spool.records(), 2);
        }
        assert!(spool.peek().is_none());
        assert_eq!(spool.take_corrupt(), 1, "given up on after the bound");
        assert_eq!(spool.records(), 0);
        assert!(spool.segments.is_empty());
    }

    #[test]
    fn a_successful_read_starts_the_failure_count_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut spool, path, moved) = spool_with_unreadable_segment(dir.path());
        for _ in 1..MAX_READ_FAILURES {
            assert!(spool.peek().is_none());
        }
        fs::remove_dir(&path).expect("rmdir");
        fs::rename(&moved, &path).expect("put the segment back");
        let first = spool.peek().expect("read once the file is back");
        assert_eq!(first.payload, vec![1; 10]);
        spool.ack(&first).expect("ack");
        fs::rename(&path, &moved).expect("move the segment away again");
        fs::create_dir(&path).expect("a directory in its place");
        for _ in 1..MAX_READ_FAILURES {
            assert!(spool.peek().is_none());
        }
        assert_eq!(spool.take_corrupt(), 0, "the count started again");
        assert_eq!(spool.records(), 1);
    }

    #[test]
    fn records_appended_after_a_failed_write_are_all_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Segments large enough that, but for the failure, all records would share one.
        let big = SpoolConfig {
            segment_bytes: 1 << 20,
            ..config(dir.path())
        };
        let mut spool = Spool::open(big.clone()).expect("open");
        spool.append(&[1; 10]).expect("append");
        let bytes = spool.bytes();
        spool.fault = Some(Fault::WriteAfter(5));
        assert!(matches!(spool.append(&[2; 10]), Err(AppendError::Io(_))));
        assert_eq!(spool.bytes(), bytes, "the failed record is not counted");
        assert_eq!(spool.records(), 1);
        spool.append(&[3; 10]).expect("append");
        spool.append(&[4; 10]).expect("append");
        assert_eq!(
            drain(&mut spool),
            vec![vec![1; 10], vec![3; 10], vec![4; 10]]
        );
        assert_eq!(spool.take_corrupt(), 0);
        assert_eq!(spool.take_corrupt_records(), 0);

        // The same, read back from disk after a restart.
        spool.append(&[5; 10]).expect("append");
        spool.fault = Some(Fault::WriteAfter(12));
        assert!(matches!(spool.append(&[6; 10]), Err(AppendError::Io(_))));
        spool.append(&[7; 10]).expect("append");
        spool.append(&[8; 10]).expect("append");
        drop(spool);
        let mut spool = Spool::open(big).expect("reopen");
        assert_eq!(spool.records(), 3);
        assert_eq!(
            drain(&mut spool),
            vec![vec![5; 10], vec![7; 10], vec![8; 10]]
        );
        assert_eq!(spool.take_corrupt(), 0, "no partial record left on disk");
        assert_eq!(spool.take_corrupt_records(), 0);
    }

    #[test]
    fn a_segment_whose_header_failed_does_not_block_later_appends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spool = Spool::open(config(dir.path())).expect("open");
        spool.fault = Some(Fault::WriteAfter(3));
        assert!(matches!(spool.append(&[1; 10]), Err(AppendError::Io(_))));
        assert!(spool.segments.is_empty());
        assert_eq!(spool.bytes(), 0);
        spool
            .append(&[2; 10])
            .expect("the next append gets a segment");
        drop(spool);
        let mut spool = Spool::open(config(dir.path())).expect("reopen");
        assert_eq!(drain(&mut spool), vec![vec![2; 10]]);
        assert_eq!(spool.take_corrupt(), 0, "no half-written header left");
    }

    #[test]
    fn a_record_whose_sync_failed_is_dropped_as_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let synced = SpoolConfig {
            segment_bytes: 1 << 20,
            sync: true,
            ..config(dir.path())
        };
        let mut spool = Spool::open(synced.clone()).expect("open");
        spool.append(&[1; 10]).expect("append");
        spool.fault = Some(Fault::Sync);
        // Reported dropped: it must not come back, here or after a restart.
        assert!(matches!(spool.append(&[2; 10]), Err(AppendError::Io(_))));
        spool.append(&[3; 10]).expect("append");
        assert_eq!(drain(&mut spool), vec![vec![1; 10], vec![3; 10]]);

        spool.append(&[4; 10]).expect("append");
        spool.fault = Some(Fault::Sync);
        assert!(matches!(spool.append(&[5; 10]), Err(AppendError::Io(_))));
        spool.append(&[6; 10]).expect("append");
        drop(spool);
        let mut spool = Spool::open(synced).expect("reopen");
        assert_eq!(drain(&mut spool), vec![vec![4; 10], vec![6; 10]]);
        assert_eq!(spool.take_corrupt(), 0);
    }

    #[test]
    fn garbage_files_do_not_crash_the_spool() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(
            dir.path().join(format!("seg-{:020}.spool", 5)),
            b"not a spool",
        )
        .expect("w");
        fs::write(dir.path().join(format!("seg-{:020}.ack", 5)), b"junk").expect("w");
        fs::write(dir.path().join("unrelated.txt"), b"x").expect("w");
        let mut spool = Spool::open(config(dir.path())).expect("open");
        assert!(spool.peek().is_none());
        assert_eq!(spool.take_corrupt(), 1);
        spool.append(b"fresh").expect("append");
        assert_eq!(drain(&mut spool), vec![b"fresh".to_vec()]);
    }

    #[test]
    fn a_segment_file_left_at_a_used_id_does_not_block_appends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spool = Spool::open(config(dir.path())).expect("open");
        spool.append(b"old").expect("append");
        drop(spool);
        let mut spool = Spool::open(config(dir.path())).expect("reopen");
        assert_eq!(drain(&mut spool), vec![b"old".to_vec()]);
        assert_eq!(
            spool.segments.len(),
            0,
            "the inherited segment is removed once read"
        );
        // Its removal failed (a file held open elsewhere, say): the file is still there.
        let path = dir.path().join(format!("seg-{FIRST_ID:020}.spool"));
        fs::write(&path, HEADER).expect("w");
        spool
            .append(b"new")
            .expect("a new id, not the one the leftover holds");
        assert_eq!(drain(&mut spool), vec![b"new".to_vec()]);
    }

    #[test]
    fn an_ack_left_without_its_segment_applies_to_no_new_segment() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Its segment was removed, its ack not: it says 1,000 bytes were delivered.
        let offset = 1_000u64.to_le_bytes();
        let mut ack = offset.to_vec();
        ack.extend_from_slice(&crc32fast::hash(&offset).to_le_bytes());
        fs::write(dir.path().join(format!("seg-{FIRST_ID:020}.ack")), ack).expect("w");
        let mut spool = Spool::open(config(dir.path())).expect("open");
        assert!(
            !dir.path().join(format!("seg-{FIRST_ID:020}.ack")).exists(),
            "an ack without its segment is removed"
        );
        spool.append(&[1; 10]).expect("append");
        spool.append(&[2; 10]).expect("append");
        drop(spool);
        let mut spool = Spool::open(config(dir.path())).expect("reopen");
        assert_eq!(drain(&mut spool), vec![vec![1; 10], vec![2; 10]]);
    }
}
