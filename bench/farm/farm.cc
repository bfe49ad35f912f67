// petrel-farm: a target farm for benchmarks and scale tests. One process, one epoll loop, one
// port on 127.0.0.1, serving N synthetic targets at /metrics/<i> (i in [0, N)), each with S
// series shaped like node_exporter's, whose values change between scrapes. Keep-alive HTTP/1.1;
// gzip when the scraper accepts it. It counts the samples it served, so a harness can compare
// what left the farm with what reached a receiver.
//
//   petrel-farm --port 0 --targets 200 --series 1000 [--port-file F] [--stats-file F]
//
// With --port 0 the kernel picks a free port, written to --port-file. SIGTERM stops it; the
// totals (requests, samples) are written to --stats-file on every request batch and at exit.
// SIGUSR1 toggles a pause: while paused every target answers 503 and serves no samples, so a
// harness can freeze the number of samples an agent could have scraped and wait for delivery.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_paused = 0;

struct Options {
  int port = 0;
  int targets = 10;
  int series = 100;
  std::string port_file;
  std::string stats_file;
};

struct Conn {
  std::string in;
  std::string out;
  size_t out_off = 0;
};

// The series of one target: metric families cycling through node_exporter-like names and
// label shapes. Values depend on (target, series, scrape number) so every scrape differs.
std::string Payload(int target, int series, uint64_t scrape) {
  static const char* kFamilies[] = {
      "node_cpu_seconds_total",         "node_network_receive_bytes_total",
      "node_filesystem_avail_bytes",    "node_disk_io_time_seconds_total",
      "node_memory_MemAvailable_bytes", "node_netstat_Tcp_InSegs"};
  std::string out;
  out.reserve(static_cast<size_t>(series) * 90);
  char line[256];
  int last_family = -1;
  for (int s = 0; s < series; ++s) {
    // Families are contiguous, as real exporters write them.
    int f = static_cast<int>(static_cast<int64_t>(s) * 6 / series);
    const char* fam = kFamilies[f];
    if (f != last_family) {
      last_family = f;
      out += "# HELP ";
      out += fam;
      out += " Synthetic series.\n# TYPE ";
      out += fam;
      out += f == 2 || f == 4 ? " gauge\n" : " counter\n";
    }
    double v = static_cast<double>(scrape) * (s % 7 + 1) + target * 0.5 + s;
    int n =
        std::snprintf(line, sizeof(line), "%s{cpu=\"%d\",device=\"dev%d\",mode=\"m%d\"} %.17g\n",
                      fam, s % 64, (s / 64) % 32, s / 2048, v);
    out.append(line, static_cast<size_t>(n));
  }
  return out;
}

std::string Gzip(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--port")
      o->port = std::atoi(v);
    else if (k == "--targets")
      o->targets = std::atoi(v);
    else if (k == "--series")
      o->series = std::atoi(v);
    else if (k == "--port-file")
      o->port_file = v;
    else if (k == "--stats-file")
      o->stats_file = v;
    else
      return false;
  }
  return o->targets > 0 && o->series > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!ParseArgs(argc, argv, &opt)) {
    std::fprintf(stderr,
                 "usage: petrel-farm --port P --targets N --series S [--port-file F] "
                 "[--stats-file F]\n");
    return 2;
  }
  signal(SIGTERM, [](int) { g_stop = 1; });
  signal(SIGINT, [](int) { g_stop = 1; });
  signal(SIGUSR1, [](int) { g_paused = !g_paused; });
  signal(SIGPIPE, SIG_IGN);

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int yes = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(opt.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(lfd, 4096) != 0) {
    std::perror("petrel-farm: bind/listen");
    return 1;
  }
  socklen_t len = sizeof(addr);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  if (!opt.port_file.empty()) {
    std::string tmp = opt.port_file + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    std::fprintf(f, "%d\n", port);
    std::fclose(f);
    std::rename(tmp.c_str(), opt.port_file.c_str());
  }
  std::fprintf(stderr, "petrel-farm: 127.0.0.1:%d, %d targets x %d series\n", port, opt.targets,
               opt.series);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

  std::unordered_map<int, Conn> conns;
  std::vector<uint64_t> scrapes(static_cast<size_t>(opt.targets), 0);
  uint64_t requests = 0, samples = 0;
  auto write_stats = [&] {
    if (opt.stats_file.empty()) return;
    std::string tmp = opt.stats_file + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
      std::fprintf(f, "requests %llu\nsamples %llu\npaused %d\n",
                   static_cast<unsigned long long>(requests),
                   static_cast<unsigned long long>(samples), static_cast<int>(g_paused));
      std::fclose(f);
      std::rename(tmp.c_str(), opt.stats_file.c_str());
    }
  };
  auto close_conn = [&](int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
  };
  auto flush = [&](int fd, Conn& c) {
    while (c.out_off < c.out.size()) {
      ssize_t n = write(fd, c.out.data() + c.out_off, c.out.size() - c.out_off);
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
      c.out_off += static_cast<size_t>(n);
    }
    c.out.clear();
    c.out_off = 0;
    return true;
  };
  auto handle = [&](int fd, Conn& c) {
    while (true) {
      size_t end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return true;
      std::string req = c.in.substr(0, end);
      c.in.erase(0, end + 4);
      int status = 200;
      std::string body;
      std::string path = req.substr(req.find(' ') + 1);
      path = path.substr(0, path.find(' '));
      int target = -1;
      if (path.rfind("/metrics/", 0) == 0) target = std::atoi(path.c_str() + 9);
      bool gzip = req.find("gzip") != std::string::npos;
      if (target < 0 || target >= opt.targets) {
        status = 404;
        body = "no such target\n";
        gzip = false;
      } else if (g_paused) {
        status = 503;
        body = "paused\n";
        gzip = false;
      } else {
        body = Payload(target, opt.series, ++scrapes[static_cast<size_t>(target)]);
        samples += static_cast<uint64_t>(opt.series);
        if (gzip) body = Gzip(body);
      }
      ++requests;
      char head[256];
      int n = std::snprintf(head, sizeof(head),
                            "HTTP/1.1 %d %s\r\nContent-Type: text/plain; version=0.0.4\r\n%s"
                            "Content-Length: %zu\r\n\r\n",
                            status,
                            status == 200   ? "OK"
                            : status == 503 ? "Service Unavailable"
                                            : "Not Found",
                            gzip ? "Content-Encoding: gzip\r\n" : "", body.size());
      c.out.append(head, static_cast<size_t>(n));
      c.out += body;
      if (!flush(fd, c)) return false;
    }
  };

  std::vector<epoll_event> events(256);
  while (!g_stop) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 500);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        while (true) {
          int c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLOUT | EPOLLET;
          cev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          conns[c];
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn& c = it->second;
      if (events[i].events & (EPOLLHUP | EPOLLERR)) {
        close_conn(fd);
        continue;
      }
      if (!flush(fd, c)) {
        close_conn(fd);
        continue;
      }
      bool closed = false;
      char buf[16384];
      while (true) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r > 0) {
          c.in.append(buf, static_cast<size_t>(r));
          continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed = true;
        break;
      }
      if (closed || !handle(fd, c)) close_conn(fd);
    }
    write_stats();
  }
  write_stats();
  return 0;
}
