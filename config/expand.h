// Environment expansion for external_labels values, with the semantics of Go's os.Expand as
// Prometheus uses it: $NAME and ${NAME} are replaced by lookup(NAME) (undefined -> ""), $$ is
// a literal $, a $ followed by nothing name-like stays as is, and the malformed "${}" and an
// unterminated "${" are dropped. Internal to config/; exposed for tests.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace petrel::config {

using EnvLookup = std::function<std::string(std::string_view name)>;

std::string ExpandEnv(std::string_view text, const EnvLookup& lookup);

// Looks name up in the process environment ("" when unset).
std::string GetEnv(std::string_view name);

}  // namespace petrel::config
