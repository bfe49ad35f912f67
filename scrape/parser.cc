#include "scrape/parser.h"

namespace petrel::scrape {

bool ContentTypeIsOpenMetrics(std::string_view content_type) {
  // The media type is what precedes the first ';', without surrounding blanks (RFC 9110);
  // type and subtype are case-insensitive.
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  constexpr std::string_view kOpenMetrics = "application/openmetrics-text";
  if (media.size() != kOpenMetrics.size()) return false;
  for (size_t i = 0; i < media.size(); ++i) {
    char c = media[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kOpenMetrics[i]) return false;
  }
  return true;
}

std::unique_ptr<Parser> NewParser(std::string_view content_type, std::string_view body) {
  if (ContentTypeIsOpenMetrics(content_type)) return NewOpenMetricsParser(body);
  return NewTextParser(body);
}

}  // namespace petrel::scrape
