// relabel_configs, metric_relabel_configs and write_relabel_configs entries from YAML.
#include <fmt/format.h>

#include "config/node.h"
#include "config/parse.h"

namespace petrel::config {
namespace {

// Go's YAML decoder sets a key written as null to the zero value, so `regex:` is the empty
// regex and `replacement:` the empty string; ForEachEntry lets us see those nulls.
Status ParseRule(const Node& map, RelabelConfig& rule) {
  bool source_labels_set = false;
  bool action_set = true;
  Status s = ForEachEntry(map, [&](const Node& key, const std::string& name, const Node& value) {
    const bool null = value.IsNull();
    if (name == "source_labels") {
      rule.source_labels.clear();
      if (null) return Status::Ok();
      source_labels_set = true;
      auto items = value.Items();
      if (!items.ok()) return items.status();
      for (const Node& item : *items) {
        auto label = item.String();
        if (!label.ok()) return label.status();
        if (!IsValidLabelName(*label)) {
          return item.Error(fmt::format("\"{}\" is not a valid label name", *label));
        }
        rule.source_labels.push_back(std::move(*label));
      }
      return Status::Ok();
    }
    if (name == "separator") return StringInto(rule.separator)(value);
    if (name == "target_label") return StringInto(rule.target_label)(value);
    if (name == "replacement") return StringInto(rule.replacement)(value);
    if (name == "regex") {
      auto text = value.String();
      if (!text.ok()) return text.status();
      auto re = Regex::Compile(*text);
      if (!re.ok()) return value.Error(re.status().message());
      rule.regex = std::move(*re);
      return Status::Ok();
    }
    if (name == "modulus") {
      if (null) {
        rule.modulus = 0;
        return Status::Ok();
      }
      auto n = value.AsInt(0, INT64_MAX);
      if (!n.ok()) return n.status();
      rule.modulus = static_cast<uint64_t>(*n);
      return Status::Ok();
    }
    if (name == "action") {
      action_set = !null;
      if (null) return Status::Ok();
      auto text = value.String();
      if (!text.ok()) return text.status();
      auto action = ParseAction(*text);
      if (!action) return value.Error(fmt::format("unknown relabel action \"{}\"", *text));
      rule.action = *action;
      return Status::Ok();
    }
    return key.Error(fmt::format("unknown key \"{}\"", name));
  });
  if (!s.ok()) return s;
  if (!action_set) return map.Error("relabel action cannot be empty");
  if (Status v = ValidateRelabel(rule, source_labels_set); !v.ok()) return map.Error(v.message());
  return Status::Ok();
}

}  // namespace

Status ParseRelabelConfigs(const Node& list, std::string_view what,
                           std::vector<RelabelConfig>& out) {
  auto items = list.Items();
  if (!items.ok()) return items.status();
  for (const Node& item : *items) {
    if (item.IsNull()) return item.Error(fmt::format("empty or null {}", what));
    if (Status s = ParseRule(item, out.emplace_back()); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace petrel::config
