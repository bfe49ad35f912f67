// Dropper: a TCP listener on 127.0.0.1:<ephemeral port> that reads the start of each request and
// resets the connection without answering, for testing transport errors. Close() releases the
// port so a FakeReceiver can take it over. Thread-safe.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace petrel::remotewrite::testing {

class Dropper {
 public:
  Dropper() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 16);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Dropper() { Close(); }

  int port() const { return port_; }
  int dropped() const { return dropped_.load(); }

  // Stops accepting and frees the port.
  void Close() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    close(fd_);
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 10) <= 0) continue;  // 10 ms slices so Close is prompt
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      char buf[4096];
      pollfd pc{c, POLLIN, 0};
      if (poll(&pc, 1, 1000) > 0) (void)!read(c, buf, sizeof(buf));
      // Counted before the close: a client that sees the reset must also see the count (the
      // ASan run caught the check between close and increment).
      ++dropped_;
      // Reset instead of a graceful close: no TIME_WAIT is left on the port, so a receiver can
      // bind it right after Close().
      linger reset{1, 0};
      setsockopt(c, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
      close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> dropped_{0};
  std::thread thread_;
};

}  // namespace petrel::remotewrite::testing
