// MemFs: an in-memory Fs for tests. Tracks, per file, how many bytes were fsynced so a test can
// fake a crash (DropUnsynced) and break files on purpose (TruncateBy, FlipByte, FailWrites).
//
// Semantics follow PosixFs: a file's parent directory must exist (kNotFound otherwise), List
// returns names of files and directories directly in a dir, Rename moves files or whole
// directories. Paths are normalized ("a//b/" == "a/b"); relative and absolute paths are distinct.
// Thread-safe: every call, and every open file, takes the one MemFs mutex. Open files keep
// working after the file is renamed or removed (like POSIX inodes). The MemFs must outlive the
// files it opened.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/fs.h"

namespace petrel {

class MemFs final : public Fs {
 public:
  MemFs();
  ~MemFs() override;

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

  // Test helpers. Each returns false (or 0 / "") when the file does not exist.

  // Cuts the last n bytes (all of them if the file is shorter).
  bool TruncateBy(const std::string& path, uint64_t n);
  // XORs the byte at offset with 0xff.
  bool FlipByte(const std::string& path, uint64_t offset);
  // Overwrites the byte at offset.
  bool SetByte(const std::string& path, uint64_t offset, char value);
  // Fakes a crash: every file loses the bytes appended after its last Sync.
  void DropUnsynced();
  // DropUnsynced, and every file opened so far becomes dead: its Append/Sync fail with kIo and
  // change nothing, so the "crashed" process's destructors cannot write after the crash.
  void Crash();
  uint64_t FileSize(const std::string& path) const;
  std::string Contents(const std::string& path) const;
  // Creates or replaces a file with data (synced), creating parent directories.
  void SetContents(const std::string& path, std::string data);
  // While true, WritableFile::Append, Sync and OpenForAppend fail with kIo (nothing written).
  void FailWrites(bool fail);
  // Number of successful WritableFile::Sync calls so far.
  uint64_t SyncCount() const;

 private:
  struct Node;
  class Writable;
  class Readable;

  static std::string Normalize(const std::string& path);
  static std::string Parent(const std::string& path);
  std::shared_ptr<Node> FindFile(const std::string& norm) const;  // requires mu_

  // guards dirs_, files_, every Node's bytes, fail_writes_ and sync_count_
  mutable std::mutex mu_;
  std::set<std::string> dirs_;                          // normalized; "" and "/" are roots
  std::map<std::string, std::shared_ptr<Node>> files_;  // normalized path -> file
  bool fail_writes_ = false;
  uint64_t generation_ = 0;  // bumped by Crash(); handles from older generations are dead
  uint64_t sync_count_ = 0;
};

}  // namespace petrel
