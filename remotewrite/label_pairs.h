// LabelPairTable: the distinct label pairs (name, value) of many series, each stored once and
// pre-encoded as the RW 1.0 Label field it is sent as (EncodeLabels output for one label), with
// a reference count. A series is then a short list of pair ids (PairedLabels): an agent's
// series repeat the same pairs (job, instance, __name__, external labels) over and over, so
// this costs a few bytes per series instead of its whole encoded label set.
//
// Ids of freed pairs are reused, so the table never holds more slots than the most pairs ever
// referenced at once. Pair bytes never move while the pair is referenced.
// One caller at a time.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cassert>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace petrel::remotewrite {

class LabelPairTable {
 public:
  static constexpr size_t kCopyBlock = 16;

  // The id of the pair, created with one reference or given one more.
  uint32_t Ref(std::string_view name, std::string_view value);
  // Drops one reference; the pair is freed with its last.
  void Unref(uint32_t id);

  // The pair as one encoded Label field: 0x0a <len> { 0x0a <len> name 0x12 <len> value }.
  // Readable up to a whole multiple of kCopyBlock bytes (zero padding), so a copy can move
  // whole blocks.
  std::string_view encoded(uint32_t id) const {
    const Pair& p = pairs_[id];
    return {p.data.get(), p.size};
  }
  std::string_view name(uint32_t id) const {
    const Pair& p = pairs_[id];
    return {p.data.get() + p.name_at, p.name_size};
  }
  std::string_view value(uint32_t id) const {
    const Pair& p = pairs_[id];
    return {p.data.get() + p.value_at, p.size - p.value_at};
  }
  uint32_t refs(uint32_t id) const { return pairs_[id].refs; }

  // Pairs referenced now.
  size_t size() const { return index_.size(); }
  // One past the highest id handed out (ids are below it).
  size_t id_bound() const { return pairs_.size(); }

 private:
  struct Pair {
    std::unique_ptr<char[]> data;  // null when free
    uint32_t size = 0;
    uint32_t refs = 0;
    uint32_t name_at = 0;
    uint32_t name_size = 0;
    uint32_t value_at = 0;
  };
  std::vector<Pair> pairs_;
  std::vector<uint32_t> free_;  // ids of freed pairs
  // Encoded bytes -> id; the keys point into pairs_[id].data.
  absl::flat_hash_map<absl::string_view, uint32_t> index_;
  std::string scratch_;
};

// One series' labels: the ids of its pairs in a LabelPairTable, in label order, packed as
// LEB128 varints (most ids are small). The encoders take this as they take EncodeLabels output.
struct PairedLabels {
  const LabelPairTable* table = nullptr;
  std::string_view ids;
  uint32_t encoded_size = 0;  // total size of the pairs' encoded bytes

  // Calls fn(id) for each pair; a fn returning bool stops the walk by returning false.
  template <typename Fn>
  void ForEach(Fn fn) const {
    const auto* p = reinterpret_cast<const uint8_t*>(ids.data());
    const auto* end = p + ids.size();
    while (p < end) {
      uint32_t id = *p & 0x7fu;
      for (int shift = 7; *p++ >= 0x80; shift += 7) {
        assert(p < end);
        id |= uint32_t{static_cast<uint8_t>(*p & 0x7fu)} << shift;
      }
      if constexpr (std::is_same_v<decltype(fn(id)), bool>) {
        if (!fn(id)) return;
      } else {
        fn(id);
      }
    }
  }
};

// Appends id to *out as a LEB128 varint.
inline void AppendPairId(uint32_t id, std::string* out) {
  while (id >= 0x80) {
    out->push_back(static_cast<char>((id & 0x7f) | 0x80));
    id >>= 7;
  }
  out->push_back(static_cast<char>(id));
}

}  // namespace petrel::remotewrite
