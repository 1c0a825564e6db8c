// brokerkey-ipc-floor: what a round trip over a unix socket costs by itself, in the shape the
// agent serves (docs/PERFORMANCE.md, session 5). CLIENTS threads each send a 300-byte request
// and wait for a 90-byte answer (a git signing request and an ssh-ed25519 signature answer are
// about that size), one at a time, as ssh-keygen does; the server does no work at all. It
// answers with a thread per connection ("threads", the agent's shape) or with one epoll loop
// ("epoll"). Prints round trips per second and the CPU one round trip costs (the whole
// process: clients and server). A benchmark, not a test: it asserts nothing.
//
//   brokerkey-ipc-floor threads|epoll CLIENTS SECONDS
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/unique_fd.h"

namespace {

constexpr std::size_t kRequest = 300;
constexpr std::size_t kAnswer = 90;

// Sends or receives exactly `size` bytes; false when the peer is gone.
bool transfer(int fd, char* data, std::size_t size, bool receive) {
  while (size > 0) {
    ssize_t n = receive ? ::recv(fd, data, size, 0) : ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// One request answered, or false when the client has gone.
bool serve_one(int fd) {
  char buffer[kRequest];
  return transfer(fd, buffer, kRequest, true) && transfer(fd, buffer, kAnswer, false);
}

double micros(const timeval& from, const timeval& to) {
  return static_cast<double>(to.tv_sec - from.tv_sec) * 1e6 +
         static_cast<double>(to.tv_usec - from.tv_usec);
}

int run(const std::string& mode, int clients, double seconds) {
  std::vector<brokerkey::UniqueFd> client_ends, server_ends;
  for (int i = 0; i < clients; ++i) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return 1;
    client_ends.emplace_back(pair[0]);
    server_ends.emplace_back(pair[1]);
  }
  std::vector<std::thread> servers;
  if (mode == "threads") {
    for (auto& end : server_ends)
      servers.emplace_back([fd = end.get()] {
        while (serve_one(fd)) {
        }
      });
  } else {
    servers.emplace_back([&server_ends] {
      brokerkey::UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
      for (auto& end : server_ends) {
        struct epoll_event event {};
        event.events = EPOLLIN;
        event.data.fd = end.get();
        ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, end.get(), &event);
      }
      std::size_t open = server_ends.size();
      struct epoll_event ready[64];
      while (open > 0) {
        int n = ::epoll_wait(epoll.get(), ready, 64, 100);
        for (int i = 0; i < n; ++i) {
          int fd = ready[i].data.fd;
          if (!serve_one(fd)) {
            ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
            --open;
          }
        }
      }
    });
  }
  std::atomic<bool> stop{false};
  std::atomic<long> total{0};
  struct rusage before {
  }, after{};
  ::getrusage(RUSAGE_SELF, &before);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (auto& end : client_ends) {
    workers.emplace_back([&stop, &total, fd = end.get()] {
      char buffer[kRequest] = {};
      long n = 0;
      while (!stop.load(std::memory_order_relaxed) && transfer(fd, buffer, kRequest, false) &&
             transfer(fd, buffer, kAnswer, true)) {
        ++n;
      }
      total += n;
      ::shutdown(fd, SHUT_WR);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& worker : workers) worker.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::getrusage(RUSAGE_SELF, &after);
  for (auto& server : servers) server.join();
  double trips = static_cast<double>(total.load());
  double user = micros(before.ru_utime, after.ru_utime),
         system = micros(before.ru_stime, after.ru_stime);
  std::printf(
      "%s, %d clients: %.0f round trips/s, %.1f us CPU per round trip (%.1f user, %.1f system)\n",
      mode.c_str(), clients, trips / elapsed, (user + system) / trips, user / trips,
      system / trips);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc == 4 ? argv[1] : "";
  if (mode != "threads" && mode != "epoll") {
    std::fprintf(stderr, "usage: brokerkey-ipc-floor threads|epoll CLIENTS SECONDS\n");
    return 2;
  }
  int clients = std::atoi(argv[2]);
  double seconds = std::atof(argv[3]);
  if (clients < 1 || clients > 1024 || !(seconds > 0 && seconds <= 600)) {
    std::fprintf(stderr,
                 "brokerkey-ipc-floor: CLIENTS from 1 to 1024, SECONDS above 0 and at most 600\n");
    return 2;
  }
  return run(mode, clients, seconds);
}
