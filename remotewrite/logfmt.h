// Log lines in the agent's logfmt style: msg="..." component=remote remote_name=... err="...".
// Internal to remotewrite/. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace petrel::remotewrite {

// s in double quotes, with '"' and '\' escaped and newlines as \n.
inline std::string Quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace petrel::remotewrite
