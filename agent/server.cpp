#include "server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

#include "core/unique_fd.h"
#include "log.h"

namespace brokerkey::agent {

namespace {

using Clock = std::chrono::steady_clock;

// Waits until `fd` is ready for `events` before `deadline`; false on timeout or error.
bool ready_before(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    struct pollfd p {fd, events, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    return ready > 0;
  }
}

// Reads exactly out.size() bytes before `deadline`; false on end of file, error or timeout.
bool read_exactly(int fd, std::span<std::uint8_t> out, Clock::time_point deadline) {
  for (std::size_t done = 0; done < out.size();) {
    if (!ready_before(fd, POLLIN, deadline)) return false;
    ssize_t n = ::recv(fd, out.data() + done, out.size() - done, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool write_all(int fd, const Bytes& data, Clock::time_point deadline) {
  for (std::size_t done = 0; done < data.size();) {
    if (!ready_before(fd, POLLOUT, deadline)) return false;
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Server::Server(int listen_fd, AgentService& service, ServerLimits limits)
    : listen_fd_(listen_fd), service_(service), limits_(limits) {}

bool Server::wait_readable(int fd, std::chrono::milliseconds timeout) {
  struct pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    int ready = ::poll(p, 2, static_cast<int>(timeout.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || (p[1].revents & POLLIN) || stopping_) return false;
    return (p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
  }
}

void Server::serve_connection(int raw_fd) {
  UniqueFd fd(raw_fd);
  Connection connection;
  const Peer& peer = connection.peer;
  try {
    connection.peer = peer_of(fd.get());
  } catch (const std::exception& e) {
    log(Level::warning, std::string("connection refused: ") + e.what());
    return;
  }
  Identification id = service_.identify_peer(peer);
  if (!id.consumer) {
    log(Level::warning, "connection from uid " + std::to_string(peer.uid) + " pid " + std::to_string(peer.pid) +
                            " refused: " + id.refusal);
    return;
  }
  while (wait_readable(fd.get(), limits_.idle_timeout)) {
    Clock::time_point deadline = Clock::now() + limits_.frame_timeout;
    std::uint8_t header[4];
    if (!read_exactly(fd.get(), header, deadline)) return;
    std::size_t length = std::size_t{header[0]} << 24 | std::size_t{header[1]} << 16 |
                         std::size_t{header[2]} << 8 | header[3];
    if (length == 0 || length > kMaxFrameLength) {
      log(Level::warning, "closed the connection of consumer " + *id.consumer + ": frame of " +
                              std::to_string(length) + " bytes");
      return;
    }
    Bytes body(length);
    if (!read_exactly(fd.get(), body, deadline)) {
      log(Level::info, "closed the connection of consumer " + *id.consumer + ": frame incomplete in time");
      return;
    }
    Bytes response;
    try {
      response = service_.handle(parse_request(body), connection);
    } catch (const MalformedMessage& e) {
      log(Level::info, "malformed request from consumer " + *id.consumer + ": " + e.what());
      response = failure_message();
    }
    if (!write_all(fd.get(), framed(response), Clock::now() + limits_.frame_timeout)) return;
  }
}

void Server::run(int stop_fd) {
  stop_fd_ = stop_fd;
  struct pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  for (;;) {
    int ready = ::poll(p, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      log(Level::error, std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (p[1].revents & POLLIN) break;
    if (!(p[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
        log(Level::error, std::string("accept: ") + std::strerror(errno));
        // Out of descriptors or memory: back off instead of spinning.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      if (open_connections_ >= limits_.max_connections) {
        ::close(fd);
        log(Level::warning, "connection refused: " + std::to_string(open_connections_) + " connections open");
        continue;
      }
      ++open_connections_;
    }
    try {
      std::thread([this, fd] {
        serve_connection(fd);
        std::lock_guard lock(mutex_);
        --open_connections_;
        idle_.notify_all();
      }).detach();
    } catch (const std::system_error& e) {
      ::close(fd);
      std::lock_guard lock(mutex_);
      --open_connections_;
      log(Level::error, std::string("connection refused: no thread for it: ") + e.what());
    }
  }
  stopping_ = true;
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return open_connections_ == 0; });
}

}  // namespace brokerkey::agent
