// Small ASCII string helpers shared by the HTTP and exposition-format code.
#pragma once

#include <string_view>

namespace petrel {

// Whether s equals lower (all lower-case ASCII) ignoring ASCII case, as Go's strings.EqualFold
// does for ASCII.
inline bool EqualFold(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

// s without leading and trailing HTTP optional whitespace (spaces and tabs, RFC 9110 §5.6.3).
inline std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace petrel
