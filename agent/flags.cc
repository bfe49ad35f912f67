#include "agent/flags.h"

#include <fmt/format.h>

#include <charconv>
#include <functional>
#include <map>

#include "config/config.h"

namespace petrel::agent {
namespace {

Result<bool> ParseBool(const std::string& flag, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return Status::InvalidArgument(fmt::format("--{}: expected true or false, got \"{}\"", flag, v));
}

using Setter = std::function<Status(Flags&, const std::string&)>;

Setter DurationFlag(std::string name, std::chrono::milliseconds Flags::*field, bool allow_zero) {
  return [name, field, allow_zero](Flags& f, const std::string& v) {
    auto d = config::ParseDuration(v);
    if (!d.ok()) return d.status().Prefixed("--" + name);
    if (!allow_zero && d->count() == 0) {
      return Status::InvalidArgument("--" + name + ": must be greater than 0");
    }
    f.*field = *d;
    return Status::Ok();
  };
}

struct FlagDef {
  const char* help;
  bool is_bool;
  std::function<Status(Flags&, const std::string&)> set;
};

const std::map<std::string, FlagDef>& Defs() {
  static const auto* defs = new std::map<std::string, FlagDef>{
      {"config.file",
       {"Petrel configuration file path (prometheus.yml syntax).", false,
        [](Flags& f, const std::string& v) {
          f.config_file = v;
          return Status::Ok();
        }}},
      {"storage.agent.path",
       {"Base path for the WAL (data-agent/ by default).", false,
        [](Flags& f, const std::string& v) {
          f.storage_path = v;
          return Status::Ok();
        }}},
      {"storage.agent.wal-compression",
       {"Compress WAL records with snappy.", true,
        [](Flags& f, const std::string& v) {
          auto b = ParseBool("storage.agent.wal-compression", v);
          if (!b.ok()) return b.status();
          f.wal_compression = *b;
          return Status::Ok();
        }}},
      {"storage.agent.wal-compression-type",
       {"WAL record compression when enabled: snappy (Prometheus 2.x reads it) or zstd.", false,
        [](Flags& f, const std::string& v) {
          if (v != "snappy" && v != "zstd") {
            return Status::InvalidArgument(fmt::format(
                "--storage.agent.wal-compression-type: expected snappy or zstd, got \"{}\"", v));
          }
          f.wal_compression_type = v;
          return Status::Ok();
        }}},
      {"storage.agent.wal-fsync-interval",
       {"How often the active WAL segment is fsynced (0: on every commit). A process crash "
        "loses nothing; a power loss at most this window.",
        false,
        DurationFlag("storage.agent.wal-fsync-interval", &Flags::wal_fsync_interval,
                     /*allow_zero=*/true)}},
      {"storage.agent.wal-truncate-frequency",
       {"How often the WAL is truncated and checkpointed.", false,
        DurationFlag("storage.agent.wal-truncate-frequency", &Flags::wal_truncate_frequency,
                     false)}},
      {"storage.agent.retention.min-time",
       {"Minimum age samples may be before being considered for deletion when the WAL is "
        "truncated.",
        false,
        DurationFlag("storage.agent.retention.min-time", &Flags::retention_min_time, false)}},
      {"storage.agent.retention.max-time",
       {"Maximum age samples may be before being forcibly deleted when the WAL is truncated.",
        false,
        DurationFlag("storage.agent.retention.max-time", &Flags::retention_max_time, false)}},
      {"storage.agent.retention.max-size",
       {"Maximum bytes of WAL (segments and checkpoint), e.g. 5GB; 0 for no bound.", false,
        [](Flags& f, const std::string& v) {
          auto n = ParseBytes(v);
          if (!n.ok()) return n.status().Prefixed("--storage.agent.retention.max-size");
          f.retention_max_bytes = *n;
          return Status::Ok();
        }}},
      {"storage.agent.retention.policy",
       {"At max-size: drop-oldest (drop the oldest segments, counting unsent samples) or "
        "backpressure (refuse new samples rather than drop unsent ones).",
        false,
        [](Flags& f, const std::string& v) {
          if (v != "drop-oldest" && v != "backpressure") {
            return Status::InvalidArgument(fmt::format(
                "--storage.agent.retention.policy: expected drop-oldest or backpressure, got "
                "\"{}\"",
                v));
          }
          f.retention_policy = v;
          return Status::Ok();
        }}},
      {"storage.agent.wal-segment-size",
       {"Size of a WAL segment file (10MB..256MB, default 128MB).", false,
        [](Flags& f, const std::string& v) {
          auto n = ParseBytes(v);
          if (!n.ok()) return n.status().Prefixed("--storage.agent.wal-segment-size");
          if (*n < (10ull << 20) || *n > (256ull << 20)) {
            return Status::InvalidArgument(
                "--storage.agent.wal-segment-size: must be between 10MB and 256MB");
          }
          // Segments are whole pages.
          f.wal_segment_bytes = *n / (32 * 1024) * (32 * 1024);
          return Status::Ok();
        }}},
      {"storage.remote.flush-deadline",
       {"How long to wait flushing remote-write queues on shutdown.", false,
        [](Flags& f, const std::string& v) {
          auto d = config::ParseDuration(v);
          if (!d.ok()) return d.status().Prefixed("--storage.remote.flush-deadline");
          f.flush_deadline = *d;
          return Status::Ok();
        }}},
      {"web.listen-address",
       {"Address to listen on for the web interface and /metrics.", false,
        [](Flags& f, const std::string& v) {
          f.listen_address = v;
          return Status::Ok();
        }}},
      {"web.enable-lifecycle",
       {"Enable shutdown and reload via HTTP request (/-/quit, /-/reload).", true,
        [](Flags& f, const std::string& v) {
          auto b = ParseBool("web.enable-lifecycle", v);
          if (!b.ok()) return b.status();
          f.enable_lifecycle = *b;
          return Status::Ok();
        }}},
      {"log.level",
       {"Only log messages with the given severity or above: debug, info, warn, error.", false,
        [](Flags& f, const std::string& v) {
          if (v != "debug" && v != "info" && v != "warn" && v != "error") {
            return Status::InvalidArgument(
                fmt::format("--log.level: expected debug, info, warn or error, got \"{}\"", v));
          }
          f.log_level = v;
          return Status::Ok();
        }}},
      {"enable-feature",
       {"Prometheus feature flags, comma-separated: \"agent\" (Petrel always runs as an agent) "
        "and \"native-histograms\" (scrape_native_histograms defaults to true where the config "
        "does not set it, as in Prometheus 3.8).",
        false,
        [](Flags& f, const std::string& v) {
          for (size_t start = 0; start <= v.size();) {
            size_t comma = v.find(',', start);
            std::string feature =
                v.substr(start, comma == std::string::npos ? comma : comma - start);
            if (feature == "native-histograms") {
              f.config_load.scrape_native_histograms_default = true;
            } else if (feature != "agent") {
              return Status::InvalidArgument(
                  fmt::format("--enable-feature: \"{}\" is not supported by petrel", feature));
            }
            if (comma == std::string::npos) break;
            start = comma + 1;
          }
          return Status::Ok();
        }}},
      {"agent",
       {"Run in agent mode (Prometheus 3 flag; Petrel always runs as an agent).", true,
        [](Flags&, const std::string& v) {
          auto b = ParseBool("agent", v);
          if (!b.ok()) return b.status();
          if (!*b) return Status::InvalidArgument("--no-agent: petrel only runs in agent mode");
          return Status::Ok();
        }}},
  };
  return *defs;
}

}  // namespace

Result<uint64_t> ParseBytes(std::string_view text) {
  // A plain byte count (what the chart renders) or Prometheus's units via config::ParseBytes.
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc() && ptr == text.data() + text.size() && !text.empty()) return n;
  auto bytes = config::ParseBytes(text);
  if (!bytes.ok()) {
    return Status::InvalidArgument(fmt::format("not a byte size: \"{}\"", text));
  }
  return *bytes;
}

Result<Flags> ParseFlags(const std::vector<std::string>& args) {
  Flags flags;
  const auto& defs = Defs();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      flags.show_help = true;
      continue;
    }
    if (arg == "--version") {
      flags.show_version = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      return Status::InvalidArgument(fmt::format("unexpected argument \"{}\"", arg));
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    bool negated = false;
    auto it = defs.find(name);
    if (it == defs.end() && name.rfind("no-", 0) == 0) {
      it = defs.find(name.substr(3));
      negated = it != defs.end() && it->second.is_bool;
      if (!negated) it = defs.end();
    }
    if (it == defs.end()) return Status::InvalidArgument(fmt::format("unknown flag --{}", name));
    if (it->second.is_bool) {
      if (negated && has_value) {
        return Status::InvalidArgument(fmt::format("--{} takes no value", name));
      }
      if (!has_value) value = negated ? "false" : "true";
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        return Status::InvalidArgument(fmt::format("expected a value for --{}", name));
      }
      value = args[++i];
    }
    if (Status s = it->second.set(flags, value); !s.ok()) return s;
  }
  return flags;
}

std::vector<std::string> StartupNotices(const Flags& flags) {
  std::vector<std::string> out;
  if (flags.config_load.scrape_native_histograms_default) {
    // Prometheus 3.9 made the flag a no-op: users should move to the config key.
    out.push_back(
        "--enable-feature=native-histograms: scrape_native_histograms defaults to true for every "
        "scrape config where neither global nor the scrape config sets it, as in Prometheus 3.8. "
        "Prometheus 3.9 ignores this flag: set scrape_native_histograms in the config instead");
  }
  return out;
}

std::string Usage() {
  std::string out =
      "usage: petrel [<flags>]\n\n"
      "Petrel, a lightweight edge scrape agent (Prometheus agent mode compatible).\n\n"
      "Flags:\n"
      "  -h, --help           Show this help.\n"
      "      --version        Show the version.\n";
  for (const auto& [name, def] : Defs()) {
    out += fmt::format("      --{}{}\n          {}\n", def.is_bool ? "[no-]" : "", name, def.help);
  }
  return out;
}

}  // namespace petrel::agent
