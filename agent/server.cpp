#include "server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

#include "core/fd_wait.h"
#include "core/unique_fd.h"
#include "log.h"

namespace brokerkey::agent {

namespace {

using Clock = std::chrono::steady_clock;

// A connection's incoming bytes: frames are cut from what one recv returned, so a request
// that arrived whole costs one recv (not one for its length and one for its body), and a
// client that sends its next request early (pipelining) loses nothing. Holds at most one
// frame (4 + kMaxFrameLength bytes) beyond what has been handled. A request may carry a consumer
// PIN (login@brokerkey.org), so no byte of a request outlives its handling: consumed bytes, the
// stale copies compaction leaves and a buffer that grows are wiped.
class FrameReader {
 public:
  explicit FrameReader(int fd) : fd_(fd) {}
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;
  ~FrameReader() { wipe(buffer_, 0, buffer_.size()); }

  bool empty() const { return begin_ == end_; }
  std::size_t size() const { return end_ - begin_; }
  const std::uint8_t* data() const { return buffer_.data() + begin_; }
  void consume(std::size_t n) {
    wipe(buffer_, begin_, n);
    begin_ += n;
  }

  // Until at least `want` bytes are buffered, before `deadline`; false on end of file, error
  // or timeout.
  bool fill(std::size_t want, Clock::time_point deadline) {
    if (size() >= want) return true;
    if (begin_ > 0) {
      std::copy(buffer_.begin() + static_cast<std::ptrdiff_t>(begin_),
                buffer_.begin() + static_cast<std::ptrdiff_t>(end_), buffer_.begin());
      std::size_t old_end = end_;
      end_ -= begin_;
      begin_ = 0;
      wipe(buffer_, end_, old_end - end_);
    }
    if (buffer_.size() < want || buffer_.size() < kChunk) {
      std::vector<std::uint8_t> larger(std::max(want, kChunk));
      std::copy(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(end_), larger.begin());
      wipe(buffer_, 0, buffer_.size());
      buffer_.swap(larger);
    }
    while (end_ < want) {
      ssize_t n = ::recv(fd_, buffer_.data() + end_, buffer_.size() - end_, MSG_DONTWAIT);
      if (n > 0) {
        end_ += static_cast<std::size_t>(n);
        continue;
      }
      if (n == 0) return false;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
      if (!ready_before(fd_, POLLIN, deadline)) return false;
    }
    return true;
  }

 private:
  static void wipe(std::vector<std::uint8_t>& buffer, std::size_t from, std::size_t n) {
    if (n > 0) OPENSSL_cleanse(buffer.data() + from, n);
  }

  static constexpr std::size_t kChunk = 16384;
  int fd_;
  std::vector<std::uint8_t> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

// Sends at once; waits for the socket only when its buffer is full.
bool write_all(int fd, const Bytes& data, Clock::time_point deadline) {
  for (std::size_t done = 0; done < data.size();) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && ready_before(fd, POLLOUT, deadline)) continue;
    return false;
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
  FrameReader in(fd.get());
  // A request already buffered (sent before the last answer) starts at once; otherwise the
  // connection waits, at most idle_timeout, for one to begin.
  while (!stopping_ && (!in.empty() || wait_readable(fd.get(), limits_.idle_timeout))) {
    Clock::time_point deadline = Clock::now() + limits_.frame_timeout;
    if (!in.fill(4, deadline)) return;
    const std::uint8_t* header = in.data();
    std::size_t length = std::size_t{header[0]} << 24 | std::size_t{header[1]} << 16 |
                         std::size_t{header[2]} << 8 | header[3];
    if (length == 0 || length > kMaxFrameLength) {
      log(Level::warning, "closed the connection of consumer " + *id.consumer + ": frame of " +
                              std::to_string(length) + " bytes");
      return;
    }
    if (!in.fill(4 + length, deadline)) {
      log(Level::info, "closed the connection of consumer " + *id.consumer + ": frame incomplete in time");
      return;
    }
    Bytes response;
    try {
      Request request = parse_request(ByteView(in.data() + 4, length));
      std::optional<WipeOnExit> wipe_contents;  // login@ contents are a PIN
      if (auto* extension = std::get_if<ExtensionRequest>(&request)) wipe_contents.emplace(extension->contents);
      response = service_.handle(request, connection);
    } catch (const MalformedMessage& e) {
      log(Level::info, "malformed request from consumer " + *id.consumer + ": " + e.what());
      response = failure_message();
    }
    in.consume(4 + length);
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
