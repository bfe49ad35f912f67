#include "test/support/mem_fs.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace petrel {

struct MemFs::Node {
  std::string data;
  uint64_t synced = 0;  // bytes of data that survive DropUnsynced
};

class MemFs::Writable final : public WritableFile {
 public:
  Writable(MemFs* fs, std::shared_ptr<Node> node, std::string path)
      : fs_(fs), node_(std::move(node)), path_(std::move(path)), generation_(fs->generation_) {}

  Status Append(std::string_view data) override {
    std::lock_guard lock(fs_->mu_);
    if (closed_) return Status::Io("append " + path_ + ": file is closed");
    if (generation_ != fs_->generation_) return Status::Io("append " + path_ + ": crashed");
    if (fs_->fail_writes_) return Status::Io("append " + path_ + ": injected write failure");
    node_->data.append(data);
    return Status::Ok();
  }
  Status Sync() override {
    std::lock_guard lock(fs_->mu_);
    if (closed_) return Status::Io("fsync " + path_ + ": file is closed");
    if (generation_ != fs_->generation_) return Status::Io("fsync " + path_ + ": crashed");
    if (fs_->fail_writes_) return Status::Io("fsync " + path_ + ": injected write failure");
    node_->synced = node_->data.size();
    ++fs_->sync_count_;
    return Status::Ok();
  }
  Status Close() override {
    std::lock_guard lock(fs_->mu_);
    closed_ = true;
    return Status::Ok();
  }
  uint64_t Size() const override {
    std::lock_guard lock(fs_->mu_);
    return node_->data.size();
  }

 private:
  MemFs* fs_;
  std::shared_ptr<Node> node_;
  std::string path_;
  const uint64_t generation_;  // of fs_ when opened
  bool closed_ = false;        // guarded by fs_->mu_
};

class MemFs::Readable final : public ReadableFile {
 public:
  Readable(MemFs* fs, std::shared_ptr<Node> node) : fs_(fs), node_(std::move(node)) {}

  Result<size_t> ReadAt(uint64_t offset, char* dst, size_t n) const override {
    std::lock_guard lock(fs_->mu_);
    const std::string& d = node_->data;
    if (offset >= d.size()) return size_t{0};
    size_t count = std::min<uint64_t>(n, d.size() - offset);
    std::memcpy(dst, d.data() + offset, count);
    return count;
  }
  Result<uint64_t> Size() const override {
    std::lock_guard lock(fs_->mu_);
    return static_cast<uint64_t>(node_->data.size());
  }

 private:
  MemFs* fs_;
  std::shared_ptr<Node> node_;
};

MemFs::MemFs() {
  dirs_.insert("");
  dirs_.insert("/");
}

MemFs::~MemFs() = default;

std::string MemFs::Normalize(const std::string& path) {
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string MemFs::Parent(const std::string& norm) {
  auto slash = norm.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return norm.substr(0, slash);
}

std::shared_ptr<MemFs::Node> MemFs::FindFile(const std::string& norm) const {
  auto it = files_.find(norm);
  return it == files_.end() ? nullptr : it->second;
}

Result<std::unique_ptr<WritableFile>> MemFs::OpenForAppend(const std::string& path) {
  std::string p = Normalize(path);
  std::lock_guard lock(mu_);
  if (fail_writes_) return Status::Io("open " + path + ": injected write failure");
  if (dirs_.count(p)) return Status::Io("open " + path + ": is a directory");
  if (!dirs_.count(Parent(p))) return Status::NotFound("open " + path + ": no such directory");
  auto& node = files_[p];
  if (!node) node = std::make_shared<Node>();
  return std::unique_ptr<WritableFile>(new Writable(this, node, p));
}

Result<std::unique_ptr<ReadableFile>> MemFs::OpenForRead(const std::string& path) {
  std::string p = Normalize(path);
  std::lock_guard lock(mu_);
  auto node = FindFile(p);
  if (!node) return Status::NotFound("open " + path + ": no such file");
  return std::unique_ptr<ReadableFile>(new Readable(this, std::move(node)));
}

Result<std::vector<std::string>> MemFs::List(const std::string& dir) {
  std::string d = Normalize(dir);
  std::lock_guard lock(mu_);
  if (!dirs_.count(d)) return Status::NotFound("list " + dir + ": no such directory");
  std::vector<std::string> names;
  auto add_child = [&](const std::string& p) {
    if (p != d && Parent(p) == d) names.push_back(p.substr(p.rfind('/') + 1));
  };
  for (const auto& sub : dirs_) add_child(sub);
  for (const auto& [p, node] : files_) add_child(p);
  return names;
}

bool MemFs::IsDir(const std::string& path) {
  std::lock_guard lock(mu_);
  return dirs_.count(Normalize(path)) > 0;
}

bool MemFs::Exists(const std::string& path) {
  std::string p = Normalize(path);
  std::lock_guard lock(mu_);
  return dirs_.count(p) > 0 || files_.count(p) > 0;
}

Status MemFs::MkdirAll(const std::string& dir) {
  std::string d = Normalize(dir);
  std::lock_guard lock(mu_);
  for (std::string p = d; !p.empty() && !dirs_.count(p); p = Parent(p)) {
    if (files_.count(p)) return Status::Io("mkdir " + dir + ": a file is in the way");
    dirs_.insert(p);
  }
  return Status::Ok();
}

Status MemFs::Rename(const std::string& from, const std::string& to) {
  std::string f = Normalize(from);
  std::string t = Normalize(to);
  std::lock_guard lock(mu_);
  if (!dirs_.count(Parent(t))) return Status::NotFound("rename " + to + ": no such directory");
  if (auto node = FindFile(f)) {
    if (dirs_.count(t)) return Status::Io("rename " + from + ": target is a directory");
    files_.erase(f);
    files_[t] = std::move(node);
    return Status::Ok();
  }
  if (!dirs_.count(f)) return Status::NotFound("rename " + from + ": no such file");
  if (f == t) return Status::Ok();
  if (files_.count(t)) return Status::Io("rename " + from + ": target is a file");
  // Moving a directory moves everything under it; an existing empty target dir is replaced.
  const std::string prefix = f + "/";
  auto moved = [&](const std::string& p) { return t + p.substr(f.size()); };
  std::vector<std::string> sub_dirs;
  for (const auto& p : dirs_) {
    if (p == f || p.rfind(prefix, 0) == 0) sub_dirs.push_back(p);
  }
  for (const auto& p : sub_dirs) {
    dirs_.erase(p);
    dirs_.insert(moved(p));
  }
  std::vector<std::string> sub_files;
  for (const auto& [p, node] : files_) {
    if (p.rfind(prefix, 0) == 0) sub_files.push_back(p);
  }
  for (const auto& p : sub_files) {
    auto node = files_[p];
    files_.erase(p);
    files_[moved(p)] = std::move(node);
  }
  return Status::Ok();
}

Status MemFs::Remove(const std::string& path) {
  std::string p = Normalize(path);
  std::lock_guard lock(mu_);
  if (files_.erase(p)) return Status::Ok();
  if (!dirs_.count(p)) return Status::NotFound("remove " + path + ": no such file");
  const std::string prefix = p + "/";
  for (const auto& d : dirs_) {
    if (d.rfind(prefix, 0) == 0) return Status::Io("remove " + path + ": directory not empty");
  }
  for (const auto& [f, node] : files_) {
    if (f.rfind(prefix, 0) == 0) return Status::Io("remove " + path + ": directory not empty");
  }
  dirs_.erase(p);
  return Status::Ok();
}

Status MemFs::RemoveAll(const std::string& path) {
  std::string p = Normalize(path);
  std::lock_guard lock(mu_);
  const std::string prefix = p + "/";
  auto under = [&](const std::string& x) { return x == p || x.rfind(prefix, 0) == 0; };
  std::erase_if(files_, [&](const auto& kv) { return under(kv.first); });
  std::erase_if(dirs_, [&](const std::string& d) { return d != "" && d != "/" && under(d); });
  return Status::Ok();
}

Status MemFs::Truncate(const std::string& path, uint64_t size) {
  std::lock_guard lock(mu_);
  auto node = FindFile(Normalize(path));
  if (!node) return Status::NotFound("truncate " + path + ": no such file");
  node->data.resize(size, '\0');
  node->synced = std::min<uint64_t>(node->synced, size);
  return Status::Ok();
}

Status MemFs::SyncDir(const std::string& dir) {
  std::lock_guard lock(mu_);
  if (!dirs_.count(Normalize(dir))) return Status::NotFound("fsync " + dir + ": no such dir");
  return Status::Ok();
}

bool MemFs::TruncateBy(const std::string& path, uint64_t n) {
  std::lock_guard lock(mu_);
  auto node = FindFile(Normalize(path));
  if (!node) return false;
  uint64_t size = node->data.size() - std::min<uint64_t>(n, node->data.size());
  node->data.resize(size);
  node->synced = std::min(node->synced, size);
  return true;
}

bool MemFs::FlipByte(const std::string& path, uint64_t offset) {
  std::lock_guard lock(mu_);
  auto node = FindFile(Normalize(path));
  if (!node || offset >= node->data.size()) return false;
  node->data[offset] = static_cast<char>(node->data[offset] ^ 0xff);
  return true;
}

bool MemFs::SetByte(const std::string& path, uint64_t offset, char value) {
  std::lock_guard lock(mu_);
  auto node = FindFile(Normalize(path));
  if (!node || offset >= node->data.size()) return false;
  node->data[offset] = value;
  return true;
}

void MemFs::DropUnsynced() {
  std::lock_guard lock(mu_);
  for (auto& [p, node] : files_) node->data.resize(node->synced);
}

void MemFs::Crash() {
  std::lock_guard lock(mu_);
  for (auto& [p, node] : files_) node->data.resize(node->synced);
  ++generation_;
}

uint64_t MemFs::FileSize(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto node = FindFile(Normalize(path));
  return node ? node->data.size() : 0;
}

std::string MemFs::Contents(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto node = FindFile(Normalize(path));
  return node ? node->data : std::string();
}

void MemFs::SetContents(const std::string& path, std::string data) {
  std::string p = Normalize(path);
  std::lock_guard lock(mu_);
  for (std::string d = Parent(p); !d.empty() && !dirs_.count(d); d = Parent(d)) dirs_.insert(d);
  auto node = std::make_shared<Node>();
  node->data = std::move(data);
  node->synced = node->data.size();
  files_[p] = std::move(node);
}

void MemFs::FailWrites(bool fail) {
  std::lock_guard lock(mu_);
  fail_writes_ = fail;
}

uint64_t MemFs::SyncCount() const {
  std::lock_guard lock(mu_);
  return sync_count_;
}

}  // namespace petrel
