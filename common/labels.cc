#include "common/labels.h"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>

namespace petrel {
namespace {

void SortUnique(std::vector<Label>& labels) {
  // stable_sort keeps input order among equal names, so "last one wins" below.
  std::stable_sort(labels.begin(), labels.end(),
                   [](const Label& a, const Label& b) { return a.name < b.name; });
  std::vector<Label> out;
  out.reserve(labels.size());
  for (auto& l : labels) {
    if (!out.empty() && out.back().name == l.name) {
      out.back().value = std::move(l.value);
    } else {
      out.push_back(std::move(l));
    }
  }
  std::erase_if(out, [](const Label& l) { return l.value.empty(); });
  labels = std::move(out);
}

// a < b, deciding on the first byte without a call when it differs (as std::string compares:
// unsigned bytes).
inline bool NameLess(const std::string& a, const std::string& b) {
  if (!a.empty() && !b.empty() && a[0] != b[0]) {
    return static_cast<unsigned char>(a[0]) < static_cast<unsigned char>(b[0]);
  }
  return a < b;
}

void AppendEscaped(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
}

}  // namespace

Labels::Labels(std::initializer_list<Label> labels) : labels_(labels) { SortUnique(labels_); }

Labels Labels::FromUnsorted(std::vector<Label> labels) {
  Labels out;
  out.labels_ = std::move(labels);
  SortUnique(out.labels_);
  return out;
}

Labels Labels::FromSorted(std::vector<Label> labels) {
  Labels out;
  out.labels_ = std::move(labels);
  assert(std::adjacent_find(out.labels_.begin(), out.labels_.end(),
                            [](const Label& a, const Label& b) { return a.name >= b.name; }) ==
         out.labels_.end());
  return out;
}

std::string_view Labels::Get(std::string_view name) const {
  auto it = std::lower_bound(labels_.begin(), labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  if (it != labels_.end() && it->name == name) return it->value;
  return {};
}

uint64_t Labels::Hash() const {
  // FNV-1a over name\xff value\xff ...; 0xff never occurs in valid UTF-8, so boundaries are
  // unambiguous.
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const auto& l : labels_) {
    mix(l.name);
    mix(l.value);
  }
  return h;
}

std::string Labels::ToString() const {
  std::string out;
  std::string_view name = Get(kMetricName);
  out.append(name);
  out.push_back('{');
  bool first = true;
  for (const auto& l : labels_) {
    if (l.name == kMetricName) continue;
    if (!first) out += ", ";
    first = false;
    out += l.name;
    out += "=\"";
    AppendEscaped(out, l.value);
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

size_t Labels::ByteSize() const {
  size_t n = sizeof(*this) + labels_.capacity() * sizeof(Label);
  for (const auto& l : labels_) {
    if (l.name.size() > 15) n += l.name.capacity();
    if (l.value.size() > 15) n += l.value.capacity();
  }
  return n;
}

void LabelsBuilder::Reset(const Labels& base) {
  size_ = 0;
  for (const auto& l : base) Add(l.name, l.value);
}

void LabelsBuilder::Set(std::string_view name, std::string_view value) {
  if (value.empty()) {
    Del(name);
    return;
  }
  for (size_t i = 0; i < size_; ++i) {
    if (labels_[i].name == name) {
      labels_[i].value.assign(value);
      return;
    }
  }
  Add(name, value);
}

void LabelsBuilder::Add(std::string_view name, std::string_view value) {
  if (value.empty()) return;
  if (size_ < labels_.size()) {
    // A spare slot: nobody holds a view into it, and nothing reallocates.
    labels_[size_].name.assign(name);
    labels_[size_].value.assign(value);
  } else {
    // Built before push_back, which may move the strings name or value point into.
    labels_.push_back(Label{std::string(name), std::string(value)});
  }
  ++size_;
}

void LabelsBuilder::Del(std::string_view name) {
  for (size_t i = 0; i < size_; ++i) {
    if (labels_[i].name == name) {
      // Keeps the strings (and their capacity) as the first spare slot.
      std::rotate(labels_.begin() + static_cast<std::ptrdiff_t>(i),
                  labels_.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                  labels_.begin() + static_cast<std::ptrdiff_t>(size_));
      --size_;
      return;
    }
  }
}

std::string_view LabelsBuilder::Get(std::string_view name) const {
  for (size_t i = 0; i < size_; ++i) {
    if (labels_[i].name == name) return labels_[i].value;
  }
  return {};
}

Labels LabelsBuilder::Build() const {
  // Names are unique and values non-empty already: sort small indexes (insertion sort, label
  // sets are short) and copy each string once, straight into place.
  constexpr size_t kInline = 32;
  uint32_t inline_order[kInline];
  std::vector<uint32_t> heap_order;
  uint32_t* order = inline_order;
  if (size_ > kInline) {  // not quadratic on a hostile label count
    heap_order.resize(size_);
    for (size_t i = 0; i < size_; ++i) heap_order[i] = static_cast<uint32_t>(i);
    std::sort(heap_order.begin(), heap_order.end(),
              [this](uint32_t a, uint32_t b) { return labels_[a].name < labels_[b].name; });
    order = heap_order.data();
  }
  for (size_t i = 0; i < size_ && size_ <= kInline; ++i) {
    const uint32_t idx = static_cast<uint32_t>(i);
    const std::string& name = labels_[idx].name;
    size_t j = i;
    for (; j > 0 && NameLess(name, labels_[order[j - 1]].name); --j) order[j] = order[j - 1];
    order[j] = idx;
  }
  std::vector<Label> out;
  out.reserve(size_);
  for (size_t i = 0; i < size_; ++i) out.push_back(labels_[order[i]]);
  return Labels::FromSorted(std::move(out));
}

}  // namespace petrel
