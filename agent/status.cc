#include "agent/status.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "config/config.h"

namespace petrel::agent {
namespace {

std::string Rfc3339(int64_t ms) {
  if (ms == 0) return "0001-01-01T00:00:00Z";  // Go's zero time, as Prometheus shows it
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", fmt::gmtime(secs), ms % 1000);
}

nlohmann::json LabelsJson(const Labels& labels) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& l : labels) out[l.name] = l.value;
  return out;
}

const char* Health(const scrape::TargetHealth& h) {
  if (h.last_scrape_ms == 0) return "unknown";
  return h.up ? "up" : "down";
}

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string TargetsJson(const std::vector<scrape::Manager::TargetStatus>& targets) {
  nlohmann::json active = nlohmann::json::array();
  for (const auto& t : targets) {
    active.push_back({
        {"discoveredLabels", LabelsJson(t.target.discovered_labels)},
        {"labels", LabelsJson(t.target.labels)},
        {"scrapePool", t.target.job},
        {"scrapeUrl", t.target.url},
        {"globalUrl", t.target.url},
        {"lastError", t.health.last_error},
        {"lastScrape", Rfc3339(t.health.last_scrape_ms)},
        {"lastScrapeDuration", t.health.last_duration_seconds},
        {"health", Health(t.health)},
        {"scrapeInterval", config::FormatDuration(t.target.interval)},
        {"scrapeTimeout", config::FormatDuration(t.target.timeout)},
    });
  }
  nlohmann::json out = {{"status", "success"},
                        {"data",
                         {{"activeTargets", active},
                          {"droppedTargets", nlohmann::json::array()},
                          {"droppedTargetCounts", nlohmann::json::object()}}}};
  return out.dump();
}

std::string StatusPage(const std::vector<scrape::Manager::TargetStatus>& targets,
                       const std::vector<QueueStatus>& queues, double now_seconds) {
  std::string html =
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>Petrel</title><style>"
      "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
      ".up{color:#080}.down{color:#b00}.unknown{color:#888}</style></head><body>"
      "<h1>Petrel</h1><h2>Targets</h2><table><tr><th>Job</th><th>Endpoint</th><th>State</th>"
      "<th>Labels</th><th>Last scrape</th><th>Duration</th><th>Error</th></tr>";
  for (const auto& t : targets) {
    std::string labels;
    for (const auto& l : t.target.labels) labels += Escape(l.name + "=\"" + l.value + "\" ");
    const char* health = Health(t.health);
    std::string ago = t.health.last_scrape_ms == 0
                          ? "never"
                          : fmt::format("{:.1f}s ago", now_seconds - t.health.last_scrape_ms / 1e3);
    html += fmt::format(
        "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td>"
        "<td>{:.3f}s</td><td>{}</td></tr>",
        Escape(t.target.job), Escape(t.target.url), health, health, labels, ago,
        t.health.last_duration_seconds, Escape(t.health.last_error));
  }
  html +=
      "</table><h2>Remote write</h2><table><tr><th>Name</th><th>URL</th><th>Pending samples"
      "</th><th>Seconds at risk</th><th>Failed samples</th></tr>";
  for (const auto& q : queues) {
    std::string risk = q.highest_sent_seconds == 0
                           ? "nothing sent yet"
                           : fmt::format("{:.0f}", now_seconds - q.highest_sent_seconds);
    html += fmt::format("<tr><td>{}</td><td>{}</td><td>{:.0f}</td><td>{}</td><td>{:.0f}</td></tr>",
                        Escape(q.name), Escape(q.url), q.samples_pending, risk, q.failed_samples);
  }
  html += "</table></body></html>\n";
  return html;
}

}  // namespace petrel::agent
