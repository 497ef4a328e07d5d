//! Parquet output: the result-file assembler and the per-block segment files.
//!
//! Every result file — fresh, resumed or merged — is produced by [`Assembler`] from the
//! same sequence of one-block record batches, so its bytes depend only on the results.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

use super::results::{schema, writer_properties};
use super::SweepError;

/// Writes a result file block by block into a temporary path; [`Assembler::finish`] renames
/// it into place.
pub struct Assembler {
    writer: ArrowWriter<File>,
    tmp: PathBuf,
    rows: u64,
}

impl std::fmt::Debug for Assembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembler").field("tmp", &self.tmp).field("rows", &self.rows).finish()
    }
}

impl Assembler {
    /// Starts a result file at `tmp` with row groups of `group_rows` and metadata `kv`.
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn create(
        tmp: &Path,
        group_rows: u64,
        kv: Vec<(String, String)>,
    ) -> Result<Assembler, SweepError> {
        Assembler::create_with(tmp, schema(), group_rows, kv)
    }

    /// [`Assembler::create`] for another table (the periods file).
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn create_with(
        tmp: &Path,
        schema: arrow_schema::SchemaRef,
        group_rows: u64,
        kv: Vec<(String, String)>,
    ) -> Result<Assembler, SweepError> {
        // Never through a link planted at the temporary name.
        let file = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(tmp)
            .map_err(|e| SweepError::io("cannot create", tmp, e))?;
        let writer = ArrowWriter::try_new(file, schema, Some(writer_properties(group_rows, kv)))
            .map_err(|e| SweepError::parquet("cannot start", tmp, e))?;
        Ok(Assembler { writer, tmp: tmp.to_path_buf(), rows: 0 })
    }

    /// Appends one block.
    ///
    /// # Errors
    /// A write error.
    pub fn append(&mut self, batch: &RecordBatch) -> Result<(), SweepError> {
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch).map_err(|e| SweepError::parquet("cannot write", &self.tmp, e))
    }

    /// Rows appended so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Closes the file and renames it to `dest` (atomic within one file system).
    ///
    /// # Errors
    /// A write or rename error.
    pub fn finish(self, dest: &Path) -> Result<(), SweepError> {
        let tmp = self.tmp.clone();
        let file =
            self.writer.into_inner().map_err(|e| SweepError::parquet("cannot finish", &tmp, e))?;
        file.sync_all().map_err(|e| SweepError::io("cannot sync", &tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, dest).map_err(|e| SweepError::io("cannot rename into", dest, e))?;
        crate::durable::sync_parent_dir(dest)
            .map_err(|e| SweepError::io("cannot sync the directory of", dest, e))
    }
}

/// Writes one block as its own Parquet file, durably: into `<path>.tmp`, then renamed.
///
/// # Errors
/// A write or rename error.
pub fn write_segment(
    path: &Path,
    batch: &RecordBatch,
    kv: Vec<(String, String)>,
) -> Result<(), SweepError> {
    let tmp = path.with_extension("parquet.tmp");
    let mut a = Assembler::create_with(&tmp, batch.schema(), batch.num_rows().max(1) as u64, kv)?;
    a.append(batch)?;
    a.finish(path)
}

/// The `gridsweep.*` key-value metadata of a Parquet file.
///
/// # Errors
/// The file cannot be opened or is not Parquet.
pub fn read_kv(path: &Path) -> Result<Vec<(String, String)>, SweepError> {
    let f = File::open(path).map_err(|e| SweepError::io("cannot open", path, e))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| SweepError::parquet("cannot read", path, e))?;
    Ok(b.metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .filter(|k| k.key.starts_with(super::results::META_PREFIX))
                .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default())
}

/// Opens a result file for reading in batches of `batch_rows`, after checking its schema.
///
/// # Errors
/// Not Parquet, or not a gridsweep result file of this version's schema.
pub fn open_results(
    path: &Path,
    batch_rows: u64,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, SweepError> {
    open_table(path, batch_rows, &schema())
}

/// [`open_results`] for a file of the table `want` (the periods file).
///
/// # Errors
/// Not Parquet, or another table.
pub fn open_table(
    path: &Path,
    batch_rows: u64,
    want: &arrow_schema::SchemaRef,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, SweepError> {
    let f = File::open(path).map_err(|e| SweepError::io("cannot open", path, e))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| SweepError::parquet("cannot read", path, e))?;
    let same = b.schema().fields() == want.fields();
    if !same {
        return Err(SweepError::Resume(format!(
            "{} is not a result file of this gridsweep version (its columns differ)",
            path.display()
        )));
    }
    b.with_batch_size(usize::try_from(batch_rows).unwrap_or(usize::MAX).max(1))
        .build()
        .map_err(|e| SweepError::parquet("cannot read", path, e))
}

/// Reads a one-block segment back.
///
/// # Errors
/// The segment is unreadable or does not hold exactly `rows` rows.
pub fn read_segment(path: &Path, rows: u64) -> Result<RecordBatch, SweepError> {
    read_segment_of(path, rows, &schema())
}

/// [`read_segment`] for a segment of the table `want`.
///
/// # Errors
/// The segment is unreadable, of another table, or does not hold exactly `rows` rows.
pub fn read_segment_of(
    path: &Path,
    rows: u64,
    want: &arrow_schema::SchemaRef,
) -> Result<RecordBatch, SweepError> {
    let mut reader = open_table(path, rows, want)?;
    let batch = reader
        .next()
        .transpose()
        .map_err(|e| SweepError::parquet("cannot read", path, e.into()))?;
    match batch {
        Some(b) if b.num_rows() as u64 == rows && reader.next().is_none() => Ok(b),
        _ => Err(SweepError::Resume(format!(
            "block file {} does not hold {rows} rows; delete it and run the same command again",
            path.display()
        ))),
    }
}
