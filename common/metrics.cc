#include "common/metrics.h"

#include <fmt/format.h>

#include <cassert>
#include <cmath>

namespace petrel {

HistogramMetric::HistogramMetric(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size())) {}

void HistogramMetric::Observe(double v) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (v <= bounds_[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.Inc(v);
}

HistogramMetric::Snapshot HistogramMetric::Read() const {
  Snapshot s;
  s.bounds = bounds_;
  uint64_t acc = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(acc);
  }
  s.count = count_.load(std::memory_order_relaxed);
  s.sum = sum_.Value();
  return s;
}

std::vector<double> DefaultBuckets() { return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}; }

Registry::Family& Registry::GetFamily(const std::string& name, Kind kind, const std::string& help,
                                      const std::vector<std::string>& label_names) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.kind = kind;
    it->second.help = help;
    it->second.label_names = label_names;
  }
  assert(it->second.kind == kind && "metric registered twice with different types");
  assert(it->second.label_names == label_names && "metric registered with other label names");
  return it->second;
}

Counter* Registry::GetCounter(const std::string& name, const std::string& help,
                              const std::vector<std::string>& label_names,
                              const std::vector<std::string>& label_values) {
  std::lock_guard lock(mu_);
  Child& c = GetFamily(name, Kind::kCounter, help, label_names).children[label_values];
  if (!c.counter) {
    c.values = label_values;
    c.counter = std::make_unique<Counter>();
  }
  return c.counter.get();
}

Gauge* Registry::GetGauge(const std::string& name, const std::string& help,
                          const std::vector<std::string>& label_names,
                          const std::vector<std::string>& label_values) {
  std::lock_guard lock(mu_);
  Child& c = GetFamily(name, Kind::kGauge, help, label_names).children[label_values];
  if (!c.gauge) {
    c.values = label_values;
    c.gauge = std::make_unique<Gauge>();
  }
  return c.gauge.get();
}

HistogramMetric* Registry::GetHistogram(const std::string& name, const std::string& help,
                                        std::vector<double> buckets,
                                        const std::vector<std::string>& label_names,
                                        const std::vector<std::string>& label_values) {
  std::lock_guard lock(mu_);
  Child& c = GetFamily(name, Kind::kHistogram, help, label_names).children[label_values];
  if (!c.histogram) {
    c.values = label_values;
    c.histogram = std::make_unique<HistogramMetric>(std::move(buckets));
  }
  return c.histogram.get();
}

void Registry::AddGaugeFunc(const std::string& name, const std::string& help,
                            std::function<double()> fn) {
  std::lock_guard lock(mu_);
  GetFamily(name, Kind::kGaugeFunc, help, {}).fn = std::move(fn);
}

void Registry::AddCounterFunc(const std::string& name, const std::string& help,
                              std::function<double()> fn) {
  std::lock_guard lock(mu_);
  GetFamily(name, Kind::kCounterFunc, help, {}).fn = std::move(fn);
}

std::string FormatFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

namespace {

std::string EscapeHelp(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, const char* extra_name = nullptr,
                  const std::string& extra_value = {}) {
  if (names.empty() && extra_name == nullptr) return;
  out.push_back('{');
  bool first = true;
  auto add = [&](const std::string& n, const std::string& v) {
    if (!first) out.push_back(',');
    first = false;
    out += n;
    out += "=\"";
    for (char c : v) {
      if (c == '\\')
        out += "\\\\";
      else if (c == '"')
        out += "\\\"";
      else if (c == '\n')
        out += "\\n";
      else
        out.push_back(c);
    }
    out.push_back('"');
  };
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) add(names[i], values[i]);
  if (extra_name != nullptr) add(extra_name, extra_value);
  out.push_back('}');
}

}  // namespace

std::string Registry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    const bool counter = fam.kind == Kind::kCounter || fam.kind == Kind::kCounterFunc;
    const char* type = counter ? "counter" : fam.kind == Kind::kHistogram ? "histogram" : "gauge";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(fam.help), name, type);
    if (fam.kind == Kind::kGaugeFunc || fam.kind == Kind::kCounterFunc) {
      out += fmt::format("{} {}\n", name, FormatFloat(fam.fn ? fam.fn() : 0));
      continue;
    }
    for (const auto& [values, child] : fam.children) {
      if (fam.kind == Kind::kHistogram) {
        auto snap = child.histogram->Read();
        for (size_t i = 0; i < snap.bounds.size(); ++i) {
          out += name + "_bucket";
          AppendLabels(out, fam.label_names, values, "le", FormatFloat(snap.bounds[i]));
          out += fmt::format(" {}\n", snap.cumulative[i]);
        }
        out += name + "_bucket";
        AppendLabels(out, fam.label_names, values, "le", "+Inf");
        out += fmt::format(" {}\n", snap.count);
        out += name + "_sum";
        AppendLabels(out, fam.label_names, values);
        out += " " + FormatFloat(snap.sum) + "\n";
        out += name + "_count";
        AppendLabels(out, fam.label_names, values);
        out += fmt::format(" {}\n", snap.count);
        continue;
      }
      double v = fam.kind == Kind::kCounter ? child.counter->Value() : child.gauge->Value();
      out += name;
      AppendLabels(out, fam.label_names, values);
      out += " " + FormatFloat(v) + "\n";
    }
  }
  return out;
}

}  // namespace petrel
