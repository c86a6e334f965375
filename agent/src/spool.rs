//! Where records go as they are read: a [`RecordSink`]. The
//! [`SpoolWriter`] packs them into chunks and writes each finished chunk to
//! `<dir>/NNNNNN.chunk` at once, so only one chunk is ever in memory.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use roster_proto::manifest::ChunkRef;
use roster_proto::records::Record;
use roster_snapshot::chunk::{Chunk, ChunkWriter};

use crate::error::{AgentError, Cause, Stage};

/// Takes records one at a time.
pub trait RecordSink {
    fn accept(&mut self, record: Record) -> Result<(), Cause>;
}

/// Collects records in memory (tests and small diagnostics only).
impl RecordSink for Vec<Record> {
    fn accept(&mut self, record: Record) -> Result<(), Cause> {
        self.push(record);
        Ok(())
    }
}

/// The file a chunk is spooled to.
pub fn chunk_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("{index:06}.chunk"))
}

/// Chunks written to a spool directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    /// The directory holding the chunk files.
    pub dir: PathBuf,
    /// Every chunk as the manifest names it, in order.
    pub chunks: Vec<ChunkRef>,
}

impl Spooled {
    /// Compressed bytes across chunks.
    pub fn bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.size).sum()
    }
}

/// Packs records into chunks and writes each chunk as soon as it is full.
#[derive(Debug)]
pub struct SpoolWriter {
    /// Where chunk files go.
    dir: PathBuf,
    /// The chunk being filled.
    writer: ChunkWriter,
    /// Chunks written so far (small: index, size, hash, count).
    chunks: Vec<ChunkRef>,
}

impl SpoolWriter {
    /// Creates `dir` (and its parents); it must not hold files already.
    pub fn create(dir: &Path) -> Result<SpoolWriter, AgentError> {
        SpoolWriter::with_writer(dir, ChunkWriter::new())
    }

    /// Like [`SpoolWriter::create`] with a given chunk writer (tests use
    /// small chunks).
    pub fn with_writer(dir: &Path, writer: ChunkWriter) -> Result<SpoolWriter, AgentError> {
        fs::create_dir_all(dir).map_err(|e| Stage::Spool.err(Cause::io("cannot create spool directory", dir, e)))?;
        let mut entries = fs::read_dir(dir).map_err(|e| Stage::Spool.err(Cause::io("cannot list spool directory", dir, e)))?;
        if entries.next().is_some() {
            return Err(Stage::Spool.err(format!("spool directory `{}` is not empty", dir.display())));
        }
        Ok(SpoolWriter { dir: dir.to_owned(), writer, chunks: Vec::new() })
    }

    /// Seals the last chunk and returns what was written.
    pub fn finish(mut self) -> Result<Spooled, AgentError> {
        let last = self.writer.finish().map_err(|e| Stage::Spool.err(e))?;
        self.writer = ChunkWriter::new();
        if let Some(chunk) = last {
            self.write(chunk).map_err(|e| Stage::Spool.err(e))?;
        }
        Ok(Spooled { dir: self.dir, chunks: self.chunks })
    }

    fn write(&mut self, chunk: Chunk) -> Result<(), Cause> {
        let path = chunk_path(&self.dir, chunk.index);
        let mut file = fs::File::create(&path).map_err(|e| Cause::io("cannot create chunk file", &path, e))?;
        file.write_all(&chunk.bytes).map_err(|e| Cause::io("cannot write chunk file", &path, e))?;
        file.sync_all().map_err(|e| Cause::io("cannot write chunk file", &path, e))?;
        self.chunks.push(ChunkRef {
            index: chunk.index,
            size: chunk.bytes.len() as u64,
            sha256: chunk.sha256.into_string(),
            records: chunk.records,
        });
        Ok(())
    }
}

impl RecordSink for SpoolWriter {
    fn accept(&mut self, record: Record) -> Result<(), Cause> {
        if let Some(chunk) = self.writer.push(&record)? {
            self.write(chunk)?;
        }
        Ok(())
    }
}

/// Removes a spool directory, logging rather than failing: it is cleanup.
pub fn remove_dir(dir: &Path) {
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(dir = %dir.display(), %error, "could not remove spool directory"),
    }
}

#[cfg(test)]
mod tests {
    use roster_proto::records::OuRecord;
    use roster_snapshot::chunk::{decode, verify_hash};

    use super::*;

    fn ou(n: u32) -> Record {
        Record::Ou(OuRecord {
            object_guid: format!("{n:08x}-0000-0000-0000-000000000000").parse().unwrap(),
            dn: format!("OU=o{n},DC=corp"),
            name: format!("o{n}"),
        })
    }

    #[test]
    fn chunks_are_written_as_they_fill() {
        let dir = std::env::temp_dir().join(format!("roster-agent-spool-{}", uuid::Uuid::new_v4()));
        let mut spool = SpoolWriter::with_writer(&dir, ChunkWriter::with_limit(1024)).unwrap();
        for n in 0..40 {
            spool.accept(ou(n)).unwrap();
        }
        let written_before_finish = fs::read_dir(&dir).unwrap().count();
        assert!(written_before_finish >= 2, "chunks must reach the disk while records arrive");
        let spooled = spool.finish().unwrap();
        assert_eq!(spooled.chunks.len(), written_before_finish + 1);
        let mut records = Vec::new();
        for (i, chunk) in spooled.chunks.iter().enumerate() {
            assert_eq!(chunk.index as usize, i);
            let bytes = fs::read(chunk_path(&dir, chunk.index)).unwrap();
            assert_eq!(bytes.len() as u64, chunk.size);
            verify_hash(&bytes, &chunk.sha256).unwrap();
            records.extend(decode(&bytes).unwrap());
        }
        assert_eq!(records, (0..40).map(ou).collect::<Vec<_>>());
        assert_eq!(spooled.bytes(), spooled.chunks.iter().map(|c| c.size).sum::<u64>());
        assert_eq!(chunk_path(&dir, 7).file_name().unwrap(), "000007.chunk");
        assert!(SpoolWriter::create(&dir).is_err(), "a used spool directory is refused");
        remove_dir(&dir);
        assert!(!dir.exists());
    }
}
