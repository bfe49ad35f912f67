#include "config/expand.h"

#include <fmt/format.h>

#include <cstdlib>

namespace petrel::config {
namespace {

// The one-character names the shell treats as special ($1, $$, $?, ...).
bool IsSpecialName(char c) {
  switch (c) {
    case '*':
    case '#':
    case '$':
    case '@':
    case '!':
    case '?':
    case '-':
      return true;
    default:
      return c >= '0' && c <= '9';
  }
}

bool IsNameChar(char c) {
  return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

struct Ref {
  std::string_view name;  // empty: no variable here
  size_t width;           // bytes consumed after the '$'
};

// Reads the variable reference that follows a '$'; s is non-empty.
Ref ReadRef(std::string_view s) {
  if (s[0] == '{') {
    if (s.size() > 2 && IsSpecialName(s[1]) && s[2] == '}') return {s.substr(1, 1), 3};
    for (size_t i = 1; i < s.size(); ++i) {
      if (s[i] != '}') continue;
      if (i == 1) return {{}, 2};  // "${}": malformed, dropped
      return {s.substr(1, i - 1), i + 1};
    }
    return {{}, 1};  // unterminated "${": the two characters are dropped
  }
  if (IsSpecialName(s[0])) return {s.substr(0, 1), 1};
  size_t i = 0;
  while (i < s.size() && IsNameChar(s[i])) ++i;
  return {s.substr(0, i), i};
}

}  // namespace

Result<std::string> ExpandEnv(std::string_view text, const EnvLookup& lookup) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$' || i + 1 == text.size()) {
      out.push_back(text[i++]);
      continue;
    }
    const Ref ref = ReadRef(text.substr(i + 1));
    if (ref.name.empty()) {
      if (ref.width == 0) out.push_back('$');  // "$" then no name: kept literally
    } else if (ref.name == "$") {
      out.push_back('$');  // "$$" (or "${$}") is an escaped dollar
    } else {
      std::optional<std::string> value = lookup(ref.name);
      if (!value) {
        return Status::InvalidArgument(
            fmt::format("environment variable \"{}\" is not set", ref.name));
      }
      out += *value;
    }
    i += 1 + ref.width;
  }
  return out;
}

std::optional<std::string> GetEnv(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

}  // namespace petrel::config
