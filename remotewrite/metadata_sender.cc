#include "remotewrite/metadata_sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <vector>

namespace petrel::remotewrite {

MetadataSender::MetadataSender(const config::RemoteWriteConfig& config, MetadataSource source,
                               std::unique_ptr<HttpClient> client, Registry& metrics,
                               SteadyTime now)
    : queue_(config.queue_config),
      config_(config.metadata_config),
      name_(config.name),
      source_(std::move(source)),
      client_(std::move(client)),
      next_collect_(now + config_.send_interval) {
  const std::vector<std::string> names = {"remote_name", "url"};
  const std::vector<std::string> values = {name_, RedactUrl(config.url)};
  const std::string p = "prometheus_remote_storage_";
  total_ = metrics.GetCounter(p + "metadata_total", "Total number of metadata entries sent.", names,
                              values);
  failed_ = metrics.GetCounter(p + "metadata_failed_total",
                               "Total number of metadata entries which failed on send to remote "
                               "storage, non-recoverable errors.",
                               names, values);
  retried_ = metrics.GetCounter(p + "metadata_retried_total",
                                "Total number of metadata entries which failed on send to remote "
                                "storage but were retried because the send error was "
                                "recoverable.",
                                names, values);
  bytes_ = metrics.GetCounter(p + "metadata_bytes_total",
                              "The total number of bytes of metadata sent by the queue after "
                              "compression.",
                              names, values);
}

void MetadataSender::Collect(SteadyTime now) {
  if (now < next_collect_ || !pending_.empty()) return;
  next_collect_ = now + config_.send_interval;
  std::set<MetricMetadata> all;  // sorted and de-duplicated: equal collections, equal requests
  source_([&all](const MetricMetadata& m) { all.insert(m); });
  const size_t per_request = static_cast<size_t>(std::max(1, config_.max_samples_per_send));
  auto it = all.begin();
  while (it != all.end()) {
    encoder_.Reset();
    size_t n = 0;
    for (; it != all.end() && n < per_request; ++it, ++n) encoder_.AddMetadata(*it);
    Request& r = pending_.emplace_back(Request{.body = {}, .entries = n});
    r.body.resize(SnappyCompress(encoder_.bytes(), &r.body).size());
  }
  attempt_ = 0;
  backoff_ = queue_.min_backoff;
  retry_at_ = now;
}

bool MetadataSender::Ready(SteadyTime now) const {
  return !in_flight_ && !pending_.empty() && now >= retry_at_;
}

void MetadataSender::Started(SteadyTime) {
  in_flight_ = true;
  const Request& r = pending_.front();
  total_->Inc(static_cast<double>(r.entries));
  bytes_->Inc(static_cast<double>(r.body.size()));
}

void MetadataSender::Done(const SendResult& result, SteadyTime now) {
  in_flight_ = false;
  const size_t entries = pending_.front().entries;
  size_t suppressed = 0;
  if (result.status.code() == Code::kUnavailable) {
    retried_->Inc(static_cast<double>(entries));
    const std::chrono::milliseconds sleep =
        result.retry_after.count() > 0 ? result.retry_after : backoff_;
    retry_at_ = now + sleep;
    backoff_ = std::min(2 * sleep, queue_.max_backoff);
    ++attempt_;
    if (log_.Allow(now, &suppressed)) {
      spdlog::warn(
          "msg=\"Failed to send metadata, retrying\" component=remote remote_name={} "
          "entries={} retry_in={}ms err={} suppressed={}",
          name_, entries, sleep.count(), Quote(result.status.message()), suppressed);
    }
    return;
  }
  if (!result.status.ok()) {
    failed_->Inc(static_cast<double>(entries));
    if (log_.Allow(now, &suppressed)) {
      spdlog::error(
          "msg=\"non-recoverable error, dropping metadata\" component=remote remote_name={} "
          "entries={} err={} suppressed={}",
          name_, entries, Quote(result.status.message()), suppressed);
    }
  }
  pending_.pop_front();
  attempt_ = 0;
  backoff_ = queue_.min_backoff;
  retry_at_ = now;
}

MetadataSender::SteadyTime MetadataSender::NextTimer() const {
  if (in_flight_) return SteadyTime::max();
  return pending_.empty() ? next_collect_ : retry_at_;
}

void MetadataSender::Abandon() {
  size_t lost = 0;
  for (const Request& r : pending_) lost += r.entries;
  pending_.clear();
  in_flight_ = false;
  failed_->Inc(static_cast<double>(lost));
}

}  // namespace petrel::remotewrite
