// Syntax checks for values: target addresses, URLs, UTF-8.
#include <fmt/format.h>

#include <charconv>

#include "config/config.h"
#include "config/parse.h"

namespace petrel::config {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Host names, IPv4 addresses and docker-style names ("my_exporter").
bool IsHostName(std::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    if (!IsAlnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

// The inside of "[...]": hex groups, ':' and '.', then an optional "%zone".
bool IsIpv6Literal(std::string_view host) {
  const std::string_view addr = host.substr(0, host.find('%'));
  if (addr.empty() || addr.find(':') == std::string_view::npos) return false;
  for (char c : addr) {
    if (!IsHex(c) && c != ':' && c != '.') return false;
  }
  if (addr.size() < host.size()) {  // zone
    const std::string_view zone = host.substr(addr.size() + 1);
    if (zone.empty()) return false;
    for (char c : zone) {
      if (!IsAlnum(c) && c != '-' && c != '.' && c != '_') return false;
    }
  }
  return true;
}

// Decimal 0..65535.
bool IsPort(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc() && end == port.data() + port.size() && value <= 65535;
}

// Empty when "host", "host:port", "[v6]" or "[v6]:port" is well formed; else why not.
std::string HostPortProblem(std::string_view hostport, bool port_may_be_empty) {
  std::string_view host = hostport;
  std::string_view port;
  bool has_port = false;
  if (!hostport.empty() && hostport[0] == '[') {
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) return "missing ']' in IPv6 address";
    host = hostport.substr(1, close - 1);
    if (!IsIpv6Literal(host)) return fmt::format("\"{}\" is not an IPv6 address", host);
    const std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return "unexpected characters after ']'";
      port = after.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = hostport.find(':');
    if (colon != std::string_view::npos) {
      if (hostport.find(':', colon + 1) != std::string_view::npos) {
        return "too many colons (write an IPv6 address as [addr]:port)";
      }
      host = hostport.substr(0, colon);
      port = hostport.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) return "missing host";
    if (!IsHostName(host)) return fmt::format("\"{}\" is not a valid host name", host);
  }
  if (has_port && !(port.empty() && port_may_be_empty) && !IsPort(port)) {
    return fmt::format("\"{}\" is not a valid port", port);
  }
  return {};
}

}  // namespace

Status CheckTargetAddress(std::string_view address) {
  if (address.empty()) return Status::InvalidArgument("empty target address");
  // Prometheus's own check: a URL is the usual mistake.
  if (address.find('/') != std::string_view::npos) {
    return Status::InvalidArgument(fmt::format(
        "\"{}\" is not a valid hostname: a target is host:port, without scheme or path", address));
  }
  if (const std::string why = HostPortProblem(address, false); !why.empty()) {
    return Status::InvalidArgument(
        fmt::format("\"{}\" is not a valid target address: {}", address, why));
  }
  return Status::Ok();
}

std::string UrlProblem(std::string_view url) {
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return "contains whitespace or control characters";
    }
  }
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return "not an absolute URL (want http:// or https://)";
  std::string scheme(url.substr(0, sep));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") {
    return fmt::format("unsupported scheme \"{}\" (want http or https)", url.substr(0, sep));
  }
  std::string_view authority = url.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);  // user:password@
  }
  if (authority.empty()) return "missing host";
  if (const std::string why = HostPortProblem(authority, true); !why.empty()) return why;
  return {};
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c >> 5) == 0x6) {
      len = 2, cp = c & 0x1f;
    } else if ((c >> 4) == 0xe) {
      len = 3, cp = c & 0x0f;
    } else if ((c >> 3) == 0x1e) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

std::vector<std::string_view> WithHttpClientKeys(std::vector<std::string_view> keys) {
  for (std::string_view key :
       {"oauth2", "no_proxy", "proxy_from_environment", "proxy_connect_header", "http_headers"}) {
    keys.push_back(key);
  }
  return keys;
}

}  // namespace petrel::config
