// Logging helpers. Log lines follow the agent's logfmt style: msg="..." component=remote
// remote_name=... err="...". Internal to remotewrite/. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
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

// Lets through at most one line per interval, counting the ones held back. One caller at a time.
class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::steady_clock::duration interval = std::chrono::seconds(10))
      : interval_(interval) {}

  // True when a line may be logged now; *suppressed gets the count held back since the last.
  bool Allow(std::chrono::steady_clock::time_point now, size_t* suppressed) {
    if (logged_ && now - last_ < interval_) {
      ++suppressed_;
      return false;
    }
    logged_ = true;
    last_ = now;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  const std::chrono::steady_clock::duration interval_;
  bool logged_ = false;
  std::chrono::steady_clock::time_point last_{};
  size_t suppressed_ = 0;
};

}  // namespace petrel::remotewrite
