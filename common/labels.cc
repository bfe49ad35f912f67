#include "common/labels.h"

#include <algorithm>
#include <cassert>

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

void AppendEscaped(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
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
  labels_.assign(base.items().begin(), base.items().end());
}

void LabelsBuilder::Set(std::string_view name, std::string_view value) {
  if (value.empty()) {
    Del(name);
    return;
  }
  for (auto& l : labels_) {
    if (l.name == name) {
      l.value.assign(value);
      return;
    }
  }
  labels_.push_back(Label{std::string(name), std::string(value)});
}

void LabelsBuilder::Del(std::string_view name) {
  std::erase_if(labels_, [name](const Label& l) { return l.name == name; });
}

std::string_view LabelsBuilder::Get(std::string_view name) const {
  for (const auto& l : labels_) {
    if (l.name == name) return l.value;
  }
  return {};
}

Labels LabelsBuilder::Build() const { return Labels::FromUnsorted(labels_); }

}  // namespace petrel
