// Label sets: the identity of a series. A Labels is sorted by name, names unique, values
// non-empty (an empty value means "absent", as in Prometheus). Immutable once built.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace petrel {

struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label&) const = default;
  auto operator<=>(const Label&) const = default;
};

inline constexpr std::string_view kMetricName = "__name__";

class Labels {
 public:
  Labels() = default;
  // Sorts, drops empty values; for duplicate names the last one wins.
  Labels(std::initializer_list<Label> labels);
  static Labels FromUnsorted(std::vector<Label> labels);
  // Takes labels already sorted, unique and without empty values (checked by assert).
  static Labels FromSorted(std::vector<Label> labels);

  // The value for name, or "" when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const { return !Get(name).empty(); }
  const std::vector<Label>& items() const { return labels_; }
  size_t size() const { return labels_.size(); }
  bool empty() const { return labels_.empty(); }
  auto begin() const { return labels_.begin(); }
  auto end() const { return labels_.end(); }

  // A 64-bit hash of the names and values (stable within one build; not persisted).
  uint64_t Hash() const;
  // {__name__="up", job="node"} rendered as `up{job="node"}`, with escaped values.
  std::string ToString() const;
  // Bytes used by names and values plus per-label overhead; for memory accounting.
  size_t ByteSize() const;

  bool operator==(const Labels&) const = default;
  bool operator<(const Labels& other) const { return labels_ < other.labels_; }

 private:
  std::vector<Label> labels_;
};

// Accumulates label changes (relabeling, target labels, external labels) and builds a Labels.
// Clear() keeps the strings' capacity, so a builder reused per sample allocates only in Build().
// Views returned by Get() are valid until the next change. One caller at a time.
class LabelsBuilder {
 public:
  LabelsBuilder() = default;
  explicit LabelsBuilder(const Labels& base) { Reset(base); }

  void Reset(const Labels& base);
  void Clear() { size_ = 0; }
  bool empty() const { return size_ == 0; }
  // Sets name to value; an empty value deletes the label.
  void Set(std::string_view name, std::string_view value);
  // Set() for a name known not to be set yet (parsers, which reject duplicate names).
  void Add(std::string_view name, std::string_view value);
  void Del(std::string_view name);
  std::string_view Get(std::string_view name) const;
  Labels Build() const;

 private:
  // labels_[0, size_) is the unsorted working set, names unique, values non-empty; slots past
  // size_ are spare strings kept for their capacity.
  std::vector<Label> labels_;
  size_t size_ = 0;
};

}  // namespace petrel
