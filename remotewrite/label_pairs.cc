#include "remotewrite/label_pairs.h"

#include <cstring>

namespace petrel::remotewrite {
namespace {

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

}  // namespace

uint32_t LabelPairTable::Ref(std::string_view name, std::string_view value) {
  // The same bytes as EncodeLabels writes for this one label.
  constexpr char kTagLabels = (1 << 3) | 2, kTagName = (1 << 3) | 2, kTagValue = (2 << 3) | 2;
  const size_t msg =
      1 + VarintSize(name.size()) + name.size() + 1 + VarintSize(value.size()) + value.size();
  scratch_.clear();
  scratch_.push_back(kTagLabels);
  PutVarint(msg, &scratch_);
  scratch_.push_back(kTagName);
  PutVarint(name.size(), &scratch_);
  const size_t name_at = scratch_.size();
  scratch_.append(name);
  scratch_.push_back(kTagValue);
  PutVarint(value.size(), &scratch_);
  const size_t value_at = scratch_.size();
  scratch_.append(value);

  auto it = index_.find(absl::string_view(scratch_.data(), scratch_.size()));
  if (it != index_.end()) {
    ++pairs_[it->second].refs;
    return it->second;
  }
  uint32_t id;
  if (free_.empty()) {
    id = static_cast<uint32_t>(pairs_.size());
    pairs_.emplace_back();
  } else {
    id = free_.back();
    free_.pop_back();
  }
  Pair& p = pairs_[id];
  // Zero padding up to a whole kCopyBlock: encoders copy pairs in whole blocks.
  const size_t padded = (scratch_.size() + kCopyBlock - 1) / kCopyBlock * kCopyBlock;
  p.data = std::make_unique<char[]>(padded);
  std::memcpy(p.data.get(), scratch_.data(), scratch_.size());
  p.size = static_cast<uint32_t>(scratch_.size());
  p.refs = 1;
  p.name_at = static_cast<uint32_t>(name_at);
  p.name_size = static_cast<uint32_t>(name.size());
  p.value_at = static_cast<uint32_t>(value_at);
  index_.emplace(absl::string_view(p.data.get(), p.size), id);
  return id;
}

void LabelPairTable::Unref(uint32_t id) {
  Pair& p = pairs_[id];
  assert(p.refs > 0);
  if (--p.refs > 0) return;
  index_.erase(absl::string_view(p.data.get(), p.size));
  p.data.reset();
  p.size = 0;
  free_.push_back(id);
}

}  // namespace petrel::remotewrite
