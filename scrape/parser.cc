#include "scrape/parser.h"

#include "common/ascii.h"

namespace petrel::scrape {

bool ContentTypeIsOpenMetrics(std::string_view content_type) {
  // The media type is what precedes the first ';', without surrounding blanks (RFC 9110);
  // type and subtype are case-insensitive.
  return EqualFold(TrimOws(content_type.substr(0, content_type.find(';'))),
                   "application/openmetrics-text");
}

namespace {

// RFC 9110 token characters.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

void TrimLeft(std::string_view* s) {
  while (!s->empty() && IsSpace(s->front())) s->remove_prefix(1);
}

std::string_view ConsumeToken(std::string_view* s) {
  size_t i = 0;
  while (i < s->size() && IsTokenChar((*s)[i])) ++i;
  std::string_view t = s->substr(0, i);
  s->remove_prefix(i);
  return t;
}

// Checks `; name=value` parameters (value a token or a quoted string) up to the end, allowing
// a trailing semicolon, like Go's mime.ParseMediaType.
bool ValidParameters(std::string_view rest) {
  for (;;) {
    TrimLeft(&rest);
    if (rest.empty()) return true;
    if (rest.front() != ';') return false;
    rest.remove_prefix(1);
    TrimLeft(&rest);
    if (rest.empty()) return true;  // trailing semicolon
    if (ConsumeToken(&rest).empty()) return false;
    TrimLeft(&rest);
    if (rest.empty() || rest.front() != '=') return false;
    rest.remove_prefix(1);
    TrimLeft(&rest);
    if (!rest.empty() && rest.front() == '"') {
      size_t i = 1;
      while (i < rest.size() && rest[i] != '"') i += rest[i] == '\\' ? 2 : 1;
      if (i >= rest.size()) return false;
      rest.remove_prefix(i + 1);
    } else if (ConsumeToken(&rest).empty()) {
      return false;
    }
  }
}

}  // namespace

std::optional<ExpositionFormat> FormatFromContentType(std::string_view content_type) {
  std::string_view rest = content_type;
  TrimLeft(&rest);
  const std::string_view type = ConsumeToken(&rest);
  if (type.empty() || rest.empty() || rest.front() != '/') return std::nullopt;
  rest.remove_prefix(1);
  const std::string_view subtype = ConsumeToken(&rest);
  if (subtype.empty() || !ValidParameters(rest)) return std::nullopt;
  const std::string_view media(type.data(), static_cast<size_t>(subtype.end() - type.begin()));
  if (EqualFold(media, "text/plain")) return ExpositionFormat::kPrometheusText;
  if (EqualFold(media, "application/openmetrics-text")) return ExpositionFormat::kOpenMetrics;
  if (EqualFold(media, "application/vnd.google.protobuf")) return ExpositionFormat::kProtobuf;
  return std::nullopt;
}

std::unique_ptr<Parser> NewParser(std::string_view content_type, std::string_view body,
                                  ProtobufOptions protobuf) {
  // Scrapes accept what Prometheus accepts: a drop-in must not fail targets Prometheus
  // scrapes fine. The strict spec checks are for `petrel check metrics`.
  if (ContentTypeIsOpenMetrics(content_type)) return NewOpenMetricsParser(body, /*strict=*/false);
  if (FormatFromContentType(content_type) == ExpositionFormat::kProtobuf) {
    return NewProtobufParser(body, protobuf);
  }
  return NewTextParser(body);
}

}  // namespace petrel::scrape
