// The agent's sockets: one listening unix socket, one thread per connection. A connection is
// identified once, at accept, by the kernel (peer.h); a peer that is no consumer is closed at
// once. Each connection is bounded: a frame must arrive whole within frame_timeout, the next
// one must start within idle_timeout, no frame may exceed kMaxFrameLength, and at most
// max_connections are open at once — so a slow, idle or hostile client holds one thread and
// nothing else, and never delays the others.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "service.h"

namespace brokerkey::agent {

struct ServerLimits {
  std::size_t max_connections = 128;
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds frame_timeout{10'000};
};

class Server {
 public:
  Server(int listen_fd, AgentService& service, ServerLimits limits = {});

  // Serves until `stop_fd` becomes readable (a signalfd for SIGTERM/SIGINT), then stops
  // accepting, lets every request in flight finish (its response sent, its record durable),
  // closes idle connections, and returns.
  void run(int stop_fd);

 private:
  void serve_connection(int fd);
  bool wait_readable(int fd, std::chrono::milliseconds timeout);

  int listen_fd_;
  AgentService& service_;
  ServerLimits limits_;
  int stop_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable idle_;
  std::size_t open_connections_ = 0;
};

}  // namespace brokerkey::agent
