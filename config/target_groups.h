// The contents of a file_sd file (Prometheus's targetgroup.Group list):
//   [{targets: ["host:port", ...], labels: {name: value, ...}}, ...]
// JSON for *.json, YAML for *.yml / *.yaml (the extension decides, any case). As Prometheus:
// YAML is strict (unknown keys are errors), JSON ignores unknown keys; label names must be
// valid ([a-zA-Z_][a-zA-Z0-9_]*, Petrel's scheme everywhere), label values strings of valid
// UTF-8; targets are taken as written (checked when targets are built). An empty YAML file or
// JSON null is an empty list. Lives in config/ because config/ is where YAML is read.
//
// Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace petrel::config {

// One group per element, in file order; kInvalidArgument names path (and, for YAML, the line).
Result<std::vector<StaticConfig>> ParseTargetGroups(std::string_view content,
                                                    const std::string& path);

}  // namespace petrel::config
