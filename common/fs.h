// Fs: the seam for disk. The WAL and remote-write progress files go through it, so tests can
// run on MemFs (test/support/mem_fs.h) and fake a crash by dropping unsynced bytes.
//
// Paths are plain '/'-separated strings. Every call is thread-safe on PosixFs; a single
// WritableFile or ReadableFile is used by one caller at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace petrel {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Sync() = 0;  // fsync: data appended so far survives a crash
  virtual Status Close() = 0;
  virtual uint64_t Size() const = 0;  // bytes in the file, synced or not
};

class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to n bytes at offset into dst; returns the count (0 at or past the end).
  virtual Result<size_t> ReadAt(uint64_t offset, char* dst, size_t n) const = 0;
  virtual Result<uint64_t> Size() const = 0;  // current size; grows while a writer appends
};

class Fs {
 public:
  virtual ~Fs() = default;
  // Opens for appending, creating the file if missing (kept contents otherwise).
  virtual Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path) = 0;
  virtual Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) = 0;
  // Names (not paths) of the entries in dir, unsorted; kNotFound if dir is missing.
  virtual Result<std::vector<std::string>> List(const std::string& dir) = 0;
  virtual bool IsDir(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual Status MkdirAll(const std::string& dir) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;  // atomic
  virtual Status Remove(const std::string& path) = 0;     // a file or an empty dir
  virtual Status RemoveAll(const std::string& path) = 0;  // recursive; ok if missing
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
};

// The real file system. Thread-safe.
class PosixFs final : public Fs {
 public:
  Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path) override;
  Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) override;
  Result<std::vector<std::string>> List(const std::string& dir) override;
  bool IsDir(const std::string& path) override;
  bool Exists(const std::string& path) override;
  Status MkdirAll(const std::string& dir) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status RemoveAll(const std::string& path) override;
  Status Truncate(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override;
};

// "a/b" + "c" -> "a/b/c" (no doubled separator).
std::string JoinPath(std::string_view dir, std::string_view name);

// Reads a whole (small) file through fs.
Result<std::string> ReadFileToString(Fs& fs, const std::string& path);

// Writes data to path atomically: write path.tmp, fsync, rename, fsync the directory.
Status WriteFileAtomic(Fs& fs, const std::string& path, std::string_view data);

}  // namespace petrel
