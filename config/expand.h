// Environment expansion: $NAME and ${NAME} are replaced by the variable's value, $$ is a
// literal $, a $ followed by nothing name-like stays as is, and the malformed "${}" and an
// unterminated "${" are dropped -- Go's os.Expand, as Prometheus uses it for external_labels.
//
// Unlike Prometheus, an unset variable is an error, not "": a DaemonSet config saying
// ${NODE_NAME} must not silently lose the node's name. A variable set to "" expands to "".
//
// For config code that parses a value needing expansion (e.g. a kubernetes_sd_configs
// selector saying ${NODE_NAME}): use Node::ExpandedString() (node.h), which reports the error
// at the value's line; ExpandEnv is the plain function under it. Thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace petrel::config {

// nullopt when name is not set.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The expanded text, or kInvalidArgument `environment variable "NAME" is not set` for the
// first unset variable.
Result<std::string> ExpandEnv(std::string_view text, const EnvLookup& lookup);

// Looks name up in the process environment.
std::optional<std::string> GetEnv(std::string_view name);

}  // namespace petrel::config
