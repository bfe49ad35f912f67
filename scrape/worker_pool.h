// WorkerPool: a fixed set of threads running submitted tasks in FIFO order.
// Thread-safe. Stop() runs the tasks already queued, then joins.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace petrel::scrape {

class WorkerPool {
 public:
  explicit WorkerPool(size_t threads);
  ~WorkerPool() { Stop(); }

  void Submit(std::function<void()> task);
  void Stop();

 private:
  void Run(std::stop_token stop);

  std::mutex mu_;  // guards tasks_ and stopping_
  std::condition_variable_any cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::jthread> threads_;
};

}  // namespace petrel::scrape
