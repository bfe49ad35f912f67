// The inline HTTP client keys (prometheus/common config.HTTPClientConfig): parse, validate,
// normalise. Values of secret keys are never put into messages.
#include "config/http_client.h"

#include <fmt/format.h>

#include <array>
#include <cctype>

#include "config/node.h"
#include "config/parse.h"

namespace petrel::config {
namespace {

constexpr std::array<std::string_view, 3> kBasicAuthUnsupported = {"username_file", "username_ref",
                                                                   "password_ref"};
constexpr std::array<std::string_view, 1> kAuthorizationUnsupported = {"credentials_ref"};
constexpr std::array<std::string_view, 4> kTlsUnsupported = {"ca", "cert", "key", "max_version"};

// A file path key: stored resolved against the config file's directory.
KeyFn PathInto(std::string& out) {
  return [&out](const Node& v) {
    auto text = v.String();
    if (!text.ok()) return text.status();
    out = v.ResolvePath(*text);
    return Status::Ok();
  };
}

// A secret: the value is taken as is; a malformed node's message names only its kind.
KeyFn SecretInto(std::string& out) { return StringInto(out); }

Status ParseBasicAuth(const Node& map, BasicAuth& out) {
  return ForEachKey(map,
                    {
                        {"username", StringInto(out.username)},
                        {"password", SecretInto(out.password)},
                        {"password_file", PathInto(out.password_file)},
                    },
                    {.unsupported = kBasicAuthUnsupported});
}

Status ParseAuthorization(const Node& map, Authorization& out) {
  out.type.clear();  // "" -> "Bearer" in Finish, as written or absent
  return ForEachKey(map,
                    {
                        {"type", StringInto(out.type)},
                        {"credentials", SecretInto(out.credentials)},
                        {"credentials_file", PathInto(out.credentials_file)},
                    },
                    {.unsupported = kAuthorizationUnsupported});
}

Status ParseTlsVersion(const Node& v, TlsVersion& out) {
  auto text = v.String();
  if (!text.ok()) return text.status();
  for (TlsVersion t :
       {TlsVersion::kTls10, TlsVersion::kTls11, TlsVersion::kTls12, TlsVersion::kTls13}) {
    if (*text == TlsVersionName(t)) {
      out = t;
      return Status::Ok();
    }
  }
  return v.Error(fmt::format("unknown TLS version: {}", *text));
}

Status ParseTls(const Node& map, TlsConfig& out) {
  Status s = ForEachKey(
      map,
      {
          {"ca_file", PathInto(out.ca_file)},
          {"cert_file", PathInto(out.cert_file)},
          {"key_file", PathInto(out.key_file)},
          {"server_name", StringInto(out.server_name)},
          {"insecure_skip_verify", BoolInto(out.insecure_skip_verify)},
          {"min_version", [&](const Node& v) { return ParseTlsVersion(v, out.min_version); }},
      },
      {.unsupported = kTlsUnsupported});
  if (!s.ok()) return s;
  if (!out.key_file.empty() && out.cert_file.empty()) {
    return map.Error(
        "exactly one of cert or cert_file must be configured when a client key is configured");
  }
  if (!out.cert_file.empty() && out.key_file.empty()) {
    return map.Error(
        "exactly one of key or key_file must be configured when a client certificate is "
        "configured");
  }
  return Status::Ok();
}

Status ParseProxyUrl(const Node& v, std::string& out) {
  auto url = v.String();
  if (!url.ok()) return url.status();
  if (url->empty()) return Status::Ok();
  const size_t sep = url->find("://");
  std::string scheme = url->substr(0, sep == std::string::npos ? 0 : sep);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string why;
  if (scheme == "socks5" || scheme == "socks5h") {
    // UrlProblem checks http(s) URLs; the rest of a socks URL has the same shape.
    why = UrlProblem("http" + url->substr(sep));
  } else {
    why = UrlProblem(*url);
    if (why.rfind("unsupported scheme", 0) == 0) {
      why = "unsupported proxy scheme (want http, https, socks5 or socks5h)";
    }
  }
  if (!why.empty()) {
    return v.Error(fmt::format("invalid proxy_url \"{}\": {}", RedactUrl(*url), why));
  }
  out = std::move(*url);
  return Status::Ok();
}

}  // namespace

const char* TlsVersionName(TlsVersion version) {
  switch (version) {
    case TlsVersion::kTls10:
      return "TLS10";
    case TlsVersion::kTls11:
      return "TLS11";
    case TlsVersion::kTls12:
      return "TLS12";
    case TlsVersion::kTls13:
      return "TLS13";
  }
  return "TLS12";
}

std::string RedactUrl(const std::string& url) {
  const size_t sep = url.find("://");
  if (sep == std::string::npos) return url;
  const size_t start = sep + 3;
  const size_t end = url.find_first_of("/?#", start);
  const std::string_view authority = std::string_view(url).substr(
      start, end == std::string::npos ? std::string::npos : end - start);
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return url;
  const size_t colon = authority.substr(0, at).find(':');
  if (colon == std::string_view::npos) return url;
  std::string out = url;
  out.replace(start + colon + 1, at - colon - 1, "xxxxx");
  return out;
}

HttpClientParser::HttpClientParser(HttpClientConfig& out) : out_(out) {}

void HttpClientParser::AddHandlers(KeyHandlers& handlers) {
  handlers.emplace("basic_auth",
                   [this](const Node& v) { return ParseBasicAuth(v, out_.basic_auth.emplace()); });
  handlers.emplace("authorization", [this](const Node& v) {
    return ParseAuthorization(v, out_.authorization.emplace());
  });
  handlers.emplace("bearer_token", SecretInto(bearer_token_));
  handlers.emplace("bearer_token_file", PathInto(bearer_token_file_));
  handlers.emplace("tls_config", [this](const Node& v) { return ParseTls(v, out_.tls_config); });
  handlers.emplace("proxy_url", [this](const Node& v) { return ParseProxyUrl(v, out_.proxy_url); });
  handlers.emplace("follow_redirects", BoolInto(out_.follow_redirects));
  handlers.emplace("enable_http2", BoolInto(out_.enable_http2));
}

// prometheus/common HTTPClientConfig.Validate, in its order and with its messages.
Status HttpClientParser::Finish(const Node& map) {
  const bool bearer = !bearer_token_.empty() || !bearer_token_file_.empty();
  if (!bearer_token_.empty() && !bearer_token_file_.empty()) {
    return map.Error("at most one of bearer_token & bearer_token_file must be configured");
  }
  if (out_.basic_auth && bearer) {
    return map.Error(
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured");
  }
  if (out_.basic_auth && !out_.basic_auth->password.empty() &&
      !out_.basic_auth->password_file.empty()) {
    return map.Error("at most one of basic_auth password & password_file must be configured");
  }
  if (out_.authorization) {
    Authorization& auth = *out_.authorization;
    if (bearer) {
      return map.Error("authorization is not compatible with bearer_token & bearer_token_file");
    }
    if (!auth.credentials.empty() && !auth.credentials_file.empty()) {
      return map.Error(
          "at most one of authorization credentials & credentials_file must be configured");
    }
    const size_t first = auth.type.find_first_not_of(" \t\r\n\v\f");
    const size_t last = auth.type.find_last_not_of(" \t\r\n\v\f");
    auth.type = first == std::string::npos ? "" : auth.type.substr(first, last - first + 1);
    if (auth.type.empty()) auth.type = "Bearer";
    std::string lower = auth.type;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "basic") {
      return map.Error("authorization type cannot be set to \"basic\", use \"basic_auth\" instead");
    }
    if (out_.basic_auth) {
      return map.Error("at most one of basic_auth, oauth2 & authorization must be configured");
    }
  } else if (bearer) {
    Authorization& auth = out_.authorization.emplace();
    auth.credentials = bearer_token_;
    auth.credentials_file = bearer_token_file_;
  }
  return Status::Ok();
}

}  // namespace petrel::config
