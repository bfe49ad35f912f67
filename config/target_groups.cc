// file_sd file contents: YAML through Node (strict, with lines), JSON through nlohmann.
#include "config/target_groups.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "config/node.h"
#include "config/parse.h"

namespace petrel::config {
namespace {

Result<std::vector<StaticConfig>> ParseYamlGroups(std::string_view content,
                                                  const std::string& path) {
  try {
    const YAML::Node doc = YAML::Load(std::string(content));
    const Node root(&path, doc, "", doc.IsNull() ? YAML::Mark() : doc.Mark());
    auto items = root.Items();
    if (!items.ok()) return items.status();
    std::vector<StaticConfig> groups;
    for (const Node& item : *items) {
      StaticConfig& g = groups.emplace_back();
      Status s = ForEachKey(
          item, {
                    {"targets",
                     [&](const Node& v) {
                       auto t = v.StringList();
                       if (t.ok()) g.targets = std::move(*t);
                       return t.status();
                     }},
                    {"labels", [&](const Node& v) { return ParseLabels(v, g.labels, false); }},
                });
      if (!s.ok()) return s;
    }
    return groups;
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return Status::InvalidArgument(fmt::format("{}: {}", path, e.msg));
    return Status::InvalidArgument(
        fmt::format("{}:{}: invalid YAML: {}", path, e.mark.line + 1, e.msg));
  }
}

Result<StaticConfig> JsonGroup(const nlohmann::json& item, size_t index, const std::string& path) {
  auto error = [&](std::string_view what) {
    return Status::InvalidArgument(fmt::format("{}: [{}]: {}", path, index, what));
  };
  if (!item.is_object()) return error("expected an object");
  StaticConfig g;
  if (auto t = item.find("targets"); t != item.end() && !t->is_null()) {
    if (!t->is_array()) return error("targets: expected an array of strings");
    for (const auto& target : *t) {
      if (!target.is_string()) return error("targets: expected an array of strings");
      g.targets.push_back(target.get<std::string>());
    }
  }
  if (auto l = item.find("labels"); l != item.end() && !l->is_null()) {
    if (!l->is_object()) return error("labels: expected an object");
    std::vector<Label> labels;
    for (const auto& [name, value] : l->items()) {
      if (!IsValidLabelName(name)) {
        return error(fmt::format("labels: \"{}\" is not a valid label name", name));
      }
      if (!value.is_string()) {
        return error(fmt::format("labels: value of \"{}\" is not a string", name));
      }
      std::string v = value.get<std::string>();
      if (!IsValidUtf8(v)) {
        return error(fmt::format("labels: value of \"{}\" is not valid UTF-8", name));
      }
      labels.push_back({name, std::move(v)});
    }
    g.labels = Labels::FromUnsorted(std::move(labels));
  }
  return g;
}

Result<std::vector<StaticConfig>> ParseJsonGroups(std::string_view content,
                                                  const std::string& path) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(content);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(fmt::format("{}: invalid JSON: {}", path, e.what()));
  }
  std::vector<StaticConfig> groups;
  if (doc.is_null()) return groups;
  if (!doc.is_array()) {
    return Status::InvalidArgument(fmt::format("{}: expected an array of target groups", path));
  }
  for (size_t i = 0; i < doc.size(); ++i) {
    auto g = JsonGroup(doc[i], i, path);
    if (!g.ok()) return g.status();
    groups.push_back(std::move(*g));
  }
  return groups;
}

}  // namespace

Result<std::vector<StaticConfig>> ParseTargetGroups(std::string_view content,
                                                    const std::string& path) {
  const size_t dot = path.rfind('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "json") return ParseJsonGroups(content, path);
  if (ext == "yml" || ext == "yaml") return ParseYamlGroups(content, path);
  return Status::InvalidArgument(
      fmt::format("{}: unknown file extension (want .json, .yml or .yaml)", path));
}

}  // namespace petrel::config
