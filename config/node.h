// Node: a yaml-cpp node plus where it sits in the file, so every error can say
// "file:line: key.path: message". Internal to config/. Nothing here throws: callers run inside
// Parse's catch-all, and these helpers check types before converting.
//
// One caller at a time (a Node is a handle into one parsed document).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "yaml-cpp/yaml.h"

namespace petrel::config {

class Node {
 public:
  // source outlives the Node; where is used when the node itself has no usable position.
  Node(const std::string* source, YAML::Node node, std::string path, YAML::Mark where);

  const YAML::Node& yaml() const { return node_; }
  const std::string& path() const { return path_; }
  // 1-based line for messages.
  int line() const { return mark_.line + 1; }
  // Absent, "~", "null" or an empty value.
  bool IsNull() const;
  bool IsEmptyCollection() const;

  // kInvalidArgument "source:line: path: message" (no "path: " when the path is empty).
  Status Error(std::string_view message) const;
  // A child at another position (e.g. an entry's key) with the given path.
  Node Child(YAML::Node node, std::string path, YAML::Mark where) const;

  // Any scalar as text; a mapping or sequence is an error.
  Result<std::string> String() const;
  // String() with $VAR / ${VAR} expanded from the environment (expand.h); an unset variable
  // is an error at this node: `petrel.yml:9: path: environment variable "X" is not set`.
  Result<std::string> ExpandedString() const;
  // A path as written in the config, joined to the directory of the config file when
  // relative (empty stays empty), as Prometheus's SetDirectory does.
  std::string ResolvePath(std::string_view path) const;
  Result<Duration> AsDuration() const;
  // A plain decimal integer in [min, max]; quoted strings are rejected as in Prometheus.
  Result<int64_t> AsInt(int64_t min, int64_t max) const;
  // YAML 1.1 booleans as Go's yaml.v2 reads them: true/false, yes/no, on/off, y/n.
  Result<bool> AsBool() const;
  // Items of a sequence; null gives none.
  Result<std::vector<Node>> Items() const;
  // A sequence of strings.
  Result<std::vector<std::string>> StringList() const;

 private:
  const std::string* source_;
  YAML::Node node_;
  std::string path_;
  YAML::Mark mark_;
};

// Calls fn(key, value) for each entry of a mapping in file order; null is an empty mapping.
// "<<" merge keys are resolved (keys written in the mapping itself win). Non-mapping values,
// non-scalar keys and repeated keys are errors.
using EntryFn = std::function<Status(const Node& key, const std::string& name, const Node& value)>;
Status ForEachEntry(const Node& map, const EntryFn& fn);

// How ForEachKey treats keys without a handler.
struct KeyRules {
  // Keys Prometheus accepts that Petrel does not implement yet.
  std::span<const std::string_view> unsupported;
  // Also treat every "<name>_sd_configs" key as unsupported.
  bool sd_configs_unsupported = false;
};

// The handler gets the value; it is not called for a null value (the default stays).
using KeyFn = std::function<Status(const Node& value)>;
using KeyHandlers = std::map<std::string_view, KeyFn>;

// Walks a mapping of known keys. A key without a handler is `unknown key "k"`, or, when
// listed in rules, `"k" is not supported by petrel yet` -- unless its value configures
// nothing (null, [], {}) or switches the feature off as Prometheus's default does (false for
// honor_labels, send_exemplars, ...; 0 for the *_limit keys), which is accepted.
Status ForEachKey(const Node& map, const KeyHandlers& handlers, const KeyRules& rules = {});

// Handlers that store a parsed value (a zero duration is stored as zero).
KeyFn StringInto(std::string& out);
KeyFn DurationInto(Duration& out);
KeyFn IntInto(int& out, int64_t min, int64_t max);
KeyFn BoolInto(bool& out);
// Keeps the node itself, for fields read after the walk or checked against others.
KeyFn NodeInto(std::optional<Node>& out);
// Calls fn for each item of a sequence value.
KeyFn ForEachItem(std::function<Status(const Node& item)> fn);

// Joins a key path: JoinPath("global", "scrape_interval") == "global.scrape_interval".
std::string JoinPath(std::string_view parent, std::string_view key);

}  // namespace petrel::config
