//! Files, with std::fs's shapes, whose every call is a hand-off call (Go's os package: each file
//! syscall runs inside entersyscall/exitsyscall).
//!
//! The functions and [`File`] wrap std::fs. Each call runs inside [`crate::blocking`], so while
//! the disk works the goroutine's processor goes on running other goroutines, and a slow disk
//! or a hung network filesystem holds one thread, not a processor. A call that returns quickly
//! costs the hand-off's bookkeeping (a few nanoseconds: see W12 in gort-bench), no syscall.
//!
//! std::fs works in a goroutine too, but holds the processor for the length of each call: the
//! other goroutines queued on it wait, until sysmon hands the processor off (after a
//! scheduling slice, 10 ms). Use this module (or wrap calls in `gort::blocking`) for I/O that
//! may be slow.
//!
//! Go's os package puts regular files in the poller where the kernel supports it; Linux's epoll
//! does not, for regular files, so Go makes a blocking syscall for them as this module does.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("gort-fs-doc-{}", std::process::id()));
//! gort::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("hello.txt");
//! gort::fs::write(&path, "hello").unwrap();
//! assert_eq!(gort::fs::read_to_string(&path).unwrap(), "hello");
//! gort::fs::remove_file(&path).unwrap();
//! std::fs::remove_dir(&dir).unwrap();
//! ```

use std::fmt;
use std::fs;
use std::io::{self, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use crate::rt::blocking;

/// Reads a whole file (std::fs::read).
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    let path = path.as_ref();
    blocking(|| fs::read(path))
}

/// Reads a whole file as UTF-8 (std::fs::read_to_string).
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    let path = path.as_ref();
    blocking(|| fs::read_to_string(path))
}

/// Writes a whole file, creating or truncating it (std::fs::write).
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    let (path, contents) = (path.as_ref(), contents.as_ref());
    blocking(|| fs::write(path, contents))
}

/// A path's metadata, following symlinks (std::fs::metadata).
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<fs::Metadata> {
    let path = path.as_ref();
    blocking(|| fs::metadata(path))
}

/// A path's metadata, not following symlinks (std::fs::symlink_metadata).
pub fn symlink_metadata<P: AsRef<Path>>(path: P) -> io::Result<fs::Metadata> {
    let path = path.as_ref();
    blocking(|| fs::symlink_metadata(path))
}

/// The entries of a directory (std::fs::read_dir); each step of the iterator is a hand-off
/// call too.
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    let path = path.as_ref();
    blocking(|| fs::read_dir(path)).map(ReadDir)
}

/// Creates a directory (std::fs::create_dir).
pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| fs::create_dir(path))
}

/// Creates a directory and its missing parents (std::fs::create_dir_all).
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| fs::create_dir_all(path))
}

/// Removes an empty directory (std::fs::remove_dir).
pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| fs::remove_dir(path))
}

/// Removes a directory and everything in it (std::fs::remove_dir_all).
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| fs::remove_dir_all(path))
}

/// Removes a file (std::fs::remove_file).
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| fs::remove_file(path))
}

/// Renames a file or directory, replacing `to` if it exists (std::fs::rename).
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    blocking(|| fs::rename(from, to))
}

/// Copies a file's contents and permissions; returns the bytes copied (std::fs::copy).
pub fn copy<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<u64> {
    let (from, to) = (from.as_ref(), to.as_ref());
    blocking(|| fs::copy(from, to))
}

/// The canonical, absolute form of a path (std::fs::canonicalize).
pub fn canonicalize<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    let path = path.as_ref();
    blocking(|| fs::canonicalize(path))
}

/// Sets a path's permissions (std::fs::set_permissions).
pub fn set_permissions<P: AsRef<Path>>(path: P, perm: fs::Permissions) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| fs::set_permissions(path, perm))
}

/// Whether a path exists, with an error when that cannot be told (std::fs::exists).
pub fn exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    let path = path.as_ref();
    blocking(|| fs::exists(path))
}

/// The target of a symbolic link (std::fs::read_link).
pub fn read_link<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    let path = path.as_ref();
    blocking(|| fs::read_link(path))
}

/// Makes `link` a new hard link to `original` (std::fs::hard_link).
pub fn hard_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    blocking(|| fs::hard_link(original, link))
}

/// Makes `link` a symbolic link to `original` (std::os::unix::fs::symlink).
pub fn symlink<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    blocking(|| std::os::unix::fs::symlink(original, link))
}

/// The iterator of [`read_dir`]: std's `DirEntry`s, each read by a hand-off call.
#[derive(Debug)]
pub struct ReadDir(fs::ReadDir);

impl Iterator for ReadDir {
    type Item = io::Result<fs::DirEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        blocking(|| self.0.next())
    }
}

/// An open file (std::fs::File) whose every operation is a hand-off call, its close (the drop)
/// included: closing a file on a network filesystem can wait for the server.
pub struct File {
    /// Taken out only by `into_std` (which consumes the `File` without running its drop) and by
    /// the drop.
    inner: ManuallyDrop<fs::File>,
}

impl File {
    /// Opens a file for reading (std::fs::File::open).
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        let path = path.as_ref();
        blocking(|| fs::File::open(path)).map(File::from)
    }

    /// Creates or truncates a file for writing (std::fs::File::create).
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        let path = path.as_ref();
        blocking(|| fs::File::create(path)).map(File::from)
    }

    /// Creates a new file for reading and writing, failing if it exists
    /// (std::fs::File::create_new).
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        let path = path.as_ref();
        blocking(|| fs::File::create_new(path)).map(File::from)
    }

    /// Options to open a file with (std::fs::File::options).
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Flushes data and metadata to the disk (fsync).
    pub fn sync_all(&self) -> io::Result<()> {
        blocking(|| self.inner.sync_all())
    }

    /// Flushes data to the disk (fdatasync).
    pub fn sync_data(&self) -> io::Result<()> {
        blocking(|| self.inner.sync_data())
    }

    /// Truncates or extends the file.
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        blocking(|| self.inner.set_len(size))
    }

    /// The file's metadata.
    pub fn metadata(&self) -> io::Result<fs::Metadata> {
        blocking(|| self.inner.metadata())
    }

    /// Changes the file's permissions.
    pub fn set_permissions(&self, perm: fs::Permissions) -> io::Result<()> {
        blocking(|| self.inner.set_permissions(perm))
    }

    /// A new handle to the same open file (sharing its cursor), as std's `try_clone`.
    pub fn try_clone(&self) -> io::Result<File> {
        blocking(|| self.inner.try_clone()).map(File::from)
    }

    /// The std file (its operations then hold the processor while they block).
    pub fn into_std(self) -> fs::File {
        let mut f = ManuallyDrop::new(self);
        // SAFETY: `f` is never dropped, so `inner` is taken out exactly once, here.
        unsafe { ManuallyDrop::take(&mut f.inner) }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: the drop runs once and nothing uses `inner` after it; `into_std` never
        // reaches here.
        let inner = unsafe { ManuallyDrop::take(&mut self.inner) };
        blocking(|| drop(inner));
    }
}

impl From<fs::File> for File {
    fn from(inner: fs::File) -> File {
        File {
            inner: ManuallyDrop::new(inner),
        }
    }
}

impl From<File> for fs::File {
    fn from(f: File) -> fs::File {
        f.into_std()
    }
}

impl From<OwnedFd> for File {
    fn from(fd: OwnedFd) -> File {
        File::from(fs::File::from(fd))
    }
}

impl From<File> for OwnedFd {
    fn from(f: File) -> OwnedFd {
        f.into_std().into()
    }
}

impl From<File> for std::process::Stdio {
    /// The file as a child's stream, as std's `From<File> for Stdio`.
    fn from(f: File) -> std::process::Stdio {
        f.into_std().into()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl IntoRawFd for File {
    fn into_raw_fd(self) -> RawFd {
        self.into_std().into_raw_fd()
    }
}

impl FromRawFd for File {
    unsafe fn from_raw_fd(fd: RawFd) -> File {
        // SAFETY: forwarded: the caller owns `fd`, an open file.
        File::from(unsafe { fs::File::from_raw_fd(fd) })
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("File").field(&*self.inner).finish()
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        blocking(|| (&*self.inner).read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        blocking(|| (&*self.inner).read_vectored(bufs))
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        blocking(|| (&*self.inner).read_to_end(buf))
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        blocking(|| (&*self.inner).read_to_string(buf))
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        blocking(|| (&*self.inner).write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        blocking(|| (&*self.inner).write_vectored(bufs))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        blocking(|| (&*self.inner).write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        blocking(|| (&*self.inner).seek(pos))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        (&*self).read_to_string(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

/// Options to open a file with (std::fs::OpenOptions); `open` is a hand-off call.
#[derive(Clone, Debug)]
pub struct OpenOptions(fs::OpenOptions);

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// All options off (std::fs::OpenOptions::new).
    pub fn new() -> OpenOptions {
        OpenOptions(fs::OpenOptions::new())
    }

    /// Open for reading.
    pub fn read(&mut self, on: bool) -> &mut OpenOptions {
        self.0.read(on);
        self
    }

    /// Open for writing.
    pub fn write(&mut self, on: bool) -> &mut OpenOptions {
        self.0.write(on);
        self
    }

    /// Open for appending.
    pub fn append(&mut self, on: bool) -> &mut OpenOptions {
        self.0.append(on);
        self
    }

    /// Truncate the file to 0 bytes on open.
    pub fn truncate(&mut self, on: bool) -> &mut OpenOptions {
        self.0.truncate(on);
        self
    }

    /// Create the file if it does not exist.
    pub fn create(&mut self, on: bool) -> &mut OpenOptions {
        self.0.create(on);
        self
    }

    /// Create the file, failing if it exists.
    pub fn create_new(&mut self, on: bool) -> &mut OpenOptions {
        self.0.create_new(on);
        self
    }

    /// The permission bits of a created file (std::os::unix::fs::OpenOptionsExt::mode).
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.0, mode);
        self
    }

    /// Extra `open(2)` flags (std::os::unix::fs::OpenOptionsExt::custom_flags): `O_NOFOLLOW`,
    /// `O_DIRECT`, ...; the access mode bits are ignored, as std's are.
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut self.0, flags);
        self
    }

    /// Opens `path` with these options.
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let path = path.as_ref();
        blocking(|| self.0.open(path)).map(File::from)
    }
}

/// So that code written against std's extension trait compiles unchanged.
impl std::os::unix::fs::OpenOptionsExt for OpenOptions {
    fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        OpenOptions::mode(self, mode)
    }

    fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        OpenOptions::custom_flags(self, flags)
    }
}

/// Options to create directories with (std::fs::DirBuilder); `create` is a hand-off call.
#[derive(Debug)]
pub struct DirBuilder(fs::DirBuilder);

impl Default for DirBuilder {
    fn default() -> Self {
        DirBuilder::new()
    }
}

impl DirBuilder {
    /// Not recursive, mode 0o777 (less the umask), as std's.
    pub fn new() -> DirBuilder {
        DirBuilder(fs::DirBuilder::new())
    }

    /// Create the missing parents too, and succeed if the directory exists.
    pub fn recursive(&mut self, on: bool) -> &mut DirBuilder {
        self.0.recursive(on);
        self
    }

    /// The permission bits of the directories created (std::os::unix::fs::DirBuilderExt::mode).
    pub fn mode(&mut self, mode: u32) -> &mut DirBuilder {
        std::os::unix::fs::DirBuilderExt::mode(&mut self.0, mode);
        self
    }

    /// Creates `path` with these options.
    pub fn create<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let path = path.as_ref();
        blocking(|| self.0.create(path))
    }
}

/// So that code written against std's extension trait compiles unchanged.
impl std::os::unix::fs::DirBuilderExt for DirBuilder {
    fn mode(&mut self, mode: u32) -> &mut DirBuilder {
        DirBuilder::mode(self, mode)
    }
}
