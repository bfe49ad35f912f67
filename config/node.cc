#include "config/node.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <set>
#include <utility>

#include "config/expand.h"

namespace petrel::config {
namespace {

const char* KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// A scalar written in quotes carries the non-specific tag "!", plain ones "?"; either
// may be overridden by an explicit tag.
bool IsQuoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// yaml-cpp gives a null value the position of the next token, often on a later line; the
// key's position is the useful one then.
YAML::Mark BestMark(const YAML::Node& node, const YAML::Mark& fallback) {
  if (!node.IsDefined() || node.IsNull()) return fallback;
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark;
}

Status MergeInto(const Node& map, const EntryFn& fn, std::set<std::string>& seen);

// Walks the entries written in one mapping, then the ones merged in via "<<" that the mapping
// does not set itself.
Status WalkMapping(const Node& map, const EntryFn& fn, std::set<std::string>& seen) {
  std::vector<Node> merges;
  std::set<std::string> own;
  for (const auto& entry : map.yaml()) {
    const YAML::Node key = entry.first;
    const YAML::Node val = entry.second;
    const Node key_node = map.Child(key, map.path(), BestMark(key, map.yaml().Mark()));
    if (!key.IsScalar()) return key_node.Error("mapping keys must be scalars");
    const std::string name = key.Scalar();
    if (name == "<<" && !IsQuoted(key)) {
      // Merged entries read as if written here, so they keep this mapping's path.
      merges.push_back(map.Child(val, map.path(), BestMark(val, key.Mark())));
      continue;
    }
    const Node value = map.Child(val, JoinPath(map.path(), name), BestMark(val, key.Mark()));
    if (!own.insert(name).second) {
      return key_node.Error(fmt::format("key \"{}\" is set more than once", name));
    }
    if (seen.count(name) != 0) continue;  // set by an enclosing mapping that merges this one
    if (Status s = fn(key_node, name, value); !s.ok()) return s;
  }
  seen.insert(own.begin(), own.end());
  for (const Node& merge : merges) {
    if (Status s = MergeInto(merge, fn, seen); !s.ok()) return s;
  }
  return Status::Ok();
}

// "<<: *a" or "<<: [*a, *b]" (earlier mappings win, as in YAML's merge key spec).
Status MergeInto(const Node& merge, const EntryFn& fn, std::set<std::string>& seen) {
  if (merge.yaml().IsMap()) return WalkMapping(merge, fn, seen);
  if (merge.yaml().IsSequence()) {
    for (const auto& element : merge.yaml()) {
      const YAML::Node yaml_item = element;
      const Node item =
          merge.Child(yaml_item, merge.path(), BestMark(yaml_item, merge.yaml().Mark()));
      if (!item.yaml().IsMap()) return item.Error("a merge key (<<) takes mappings only");
      if (Status s = WalkMapping(item, fn, seen); !s.ok()) return s;
    }
    return Status::Ok();
  }
  return merge.Error("a merge key (<<) takes a mapping or a sequence of mappings");
}

// Values of unsupported keys that switch the feature off: Prometheus's default, and what
// Petrel does anyway. Generated configs often spell these out.
enum class Off { kFalse, kZero, kZeroDuration };

bool IsOffValue(std::string_view key, const Node& value) {
  static const std::map<std::string_view, Off> kOff = {
      {"honor_labels", Off::kFalse},
      {"track_timestamps_staleness", Off::kFalse},
      {"scrape_native_histograms", Off::kFalse},
      {"always_scrape_classic_histograms", Off::kFalse},
      {"convert_classic_histograms_to_nhcb", Off::kFalse},
      {"extra_scrape_metrics", Off::kFalse},
      {"send_exemplars", Off::kFalse},
      {"send_native_histograms", Off::kFalse},
      {"round_robin_dns", Off::kFalse},
      {"proxy_from_environment", Off::kFalse},
      {"failed_request_logging", Off::kFalse},
      {"sample_limit", Off::kZero},
      {"target_limit", Off::kZero},
      {"label_limit", Off::kZero},
      {"label_name_length_limit", Off::kZero},
      {"label_value_length_limit", Off::kZero},
      {"keep_dropped_targets", Off::kZero},
      {"native_histogram_bucket_limit", Off::kZero},
      {"sample_age_limit", Off::kZeroDuration},
  };
  const auto it = kOff.find(key);
  if (it == kOff.end() || !value.yaml().IsScalar()) return false;
  switch (it->second) {
    case Off::kFalse: {
      auto b = value.AsBool();
      return b.ok() && !*b;
    }
    case Off::kZero: {
      auto n = value.AsInt(0, 0);
      return n.ok();
    }
    case Off::kZeroDuration: {
      auto d = ParseDuration(value.yaml().Scalar());
      return d.ok() && d->count() == 0;
    }
  }
  return false;
}

}  // namespace

Node::Node(const std::string* source, YAML::Node node, std::string path, YAML::Mark where)
    : source_(source), node_(std::move(node)), path_(std::move(path)), mark_(where) {}

bool Node::IsNull() const { return !node_.IsDefined() || node_.IsNull(); }

bool Node::IsEmptyCollection() const {
  return (node_.IsMap() || node_.IsSequence()) && node_.size() == 0;
}

Status Node::Error(std::string_view message) const {
  if (path_.empty()) {
    return Status::InvalidArgument(fmt::format("{}:{}: {}", *source_, line(), message));
  }
  return Status::InvalidArgument(fmt::format("{}:{}: {}: {}", *source_, line(), path_, message));
}

Node Node::Child(YAML::Node node, std::string path, YAML::Mark where) const {
  return Node(source_, std::move(node), std::move(path), where);
}

Result<std::string> Node::String() const {
  if (IsNull()) return std::string();
  if (!node_.IsScalar()) return Error(fmt::format("expected a string, got {}", KindName(node_)));
  return node_.Scalar();
}

Result<std::string> Node::ExpandedString() const {
  auto text = String();
  if (!text.ok()) return text.status();
  auto expanded = ExpandEnv(*text, GetEnv);
  if (!expanded.ok()) return Error(expanded.status().message());
  return expanded;
}

std::string Node::ResolvePath(std::string_view path) const {
  if (path.empty() || path[0] == '/') return std::string(path);
  const size_t slash = source_->rfind('/');
  if (slash == std::string::npos) return std::string(path);
  return fmt::format("{}/{}", std::string_view(*source_).substr(0, slash), path);
}

Result<Duration> Node::AsDuration() const {
  auto text = String();
  if (!text.ok()) return text.status();
  auto d = ParseDuration(*text);
  if (!d.ok()) return Error(d.status().message());
  return d;
}

Result<int64_t> Node::AsInt(int64_t min, int64_t max) const {
  if (!node_.IsScalar()) return Error(fmt::format("expected an integer, got {}", KindName(node_)));
  const std::string& text = node_.Scalar();
  if (IsQuoted(node_)) return Error(fmt::format("expected an integer, got string \"{}\"", text));
  std::string digits;
  for (char c : text) {
    if (c != '_') digits.push_back(c);  // YAML 1.1 allows 1_000
  }
  std::string_view view = digits;
  if (!view.empty() && view[0] == '+') view.remove_prefix(1);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), value);
  if (view.empty() || ec != std::errc() || end != view.data() + view.size()) {
    return Error(fmt::format("not an integer \"{}\"", text));
  }
  if (value < min || value > max) {
    return Error(fmt::format("{} is out of range [{}, {}]", value, min, max));
  }
  return value;
}

Result<bool> Node::AsBool() const {
  if (!node_.IsScalar()) return Error(fmt::format("expected a boolean, got {}", KindName(node_)));
  const std::string& text = node_.Scalar();
  if (!IsQuoted(node_)) {
    static constexpr std::array<std::string_view, 11> kTrue = {
        "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"};
    static constexpr std::array<std::string_view, 11> kFalse = {
        "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"};
    for (std::string_view t : kTrue) {
      if (text == t) return true;
    }
    for (std::string_view f : kFalse) {
      if (text == f) return false;
    }
  }
  return Error(fmt::format("not a boolean \"{}\"", text));
}

Result<std::vector<Node>> Node::Items() const {
  std::vector<Node> items;
  if (IsNull()) return items;
  if (!node_.IsSequence())
    return Error(fmt::format("expected a sequence, got {}", KindName(node_)));
  size_t index = 0;
  for (const auto& element : node_) {
    const YAML::Node item = element;
    items.push_back(Child(item, fmt::format("{}[{}]", path_, index++), BestMark(item, mark_)));
  }
  return items;
}

Result<std::vector<std::string>> Node::StringList() const {
  auto items = Items();
  if (!items.ok()) return items.status();
  std::vector<std::string> out;
  for (const Node& item : *items) {
    auto text = item.String();
    if (!text.ok()) return text.status();
    out.push_back(std::move(*text));
  }
  return out;
}

Status ForEachEntry(const Node& map, const EntryFn& fn) {
  if (map.IsNull()) return Status::Ok();
  if (!map.yaml().IsMap()) {
    return map.Error(fmt::format("expected a mapping, got {}", KindName(map.yaml())));
  }
  std::set<std::string> seen;
  return WalkMapping(map, fn, seen);
}

Status ForEachKey(const Node& map, const KeyHandlers& handlers, const KeyRules& rules) {
  return ForEachEntry(map, [&](const Node& key, const std::string& name, const Node& value) {
    if (auto it = handlers.find(name); it != handlers.end()) {
      return value.IsNull() ? Status::Ok() : it->second(value);
    }
    bool unsupported = rules.sd_configs_unsupported && EndsWith(name, "_sd_configs");
    for (std::string_view u : rules.unsupported) unsupported = unsupported || u == name;
    if (!unsupported) return key.Error(fmt::format("unknown key \"{}\"", name));
    // A setting that configures nothing, or switches its feature off, means the same to
    // Petrel as to Prometheus.
    if (value.IsNull() || value.IsEmptyCollection() || IsOffValue(name, value)) {
      return Status::Ok();
    }
    return key.Error(fmt::format("\"{}\" is not supported by petrel yet", name));
  });
}

KeyFn StringInto(std::string& out) {
  return [&out](const Node& v) {
    auto text = v.String();
    if (text.ok()) out = std::move(*text);
    return text.status();
  };
}

KeyFn DurationInto(Duration& out) {
  return [&out](const Node& v) {
    auto d = v.AsDuration();
    if (d.ok()) out = *d;
    return d.status();
  };
}

KeyFn IntInto(int& out, int64_t min, int64_t max) {
  return [&out, min, max](const Node& v) {
    auto n = v.AsInt(min, max);
    if (n.ok()) out = static_cast<int>(*n);
    return n.status();
  };
}

KeyFn BoolInto(bool& out) {
  return [&out](const Node& v) {
    auto b = v.AsBool();
    if (b.ok()) out = *b;
    return b.status();
  };
}

KeyFn NodeInto(std::optional<Node>& out) {
  return [&out](const Node& v) {
    out = v;
    return Status::Ok();
  };
}

KeyFn ForEachItem(std::function<Status(const Node& item)> fn) {
  return [fn = std::move(fn)](const Node& v) {
    auto items = v.Items();
    if (!items.ok()) return items.status();
    for (const Node& item : *items) {
      if (Status s = fn(item); !s.ok()) return s;
    }
    return Status::Ok();
  };
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

}  // namespace petrel::config
