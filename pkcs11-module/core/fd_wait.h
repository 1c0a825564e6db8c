// Deadlines for a socket's reads and writes, shared by brokerkey-agent's server and its clients'
// AgentConnection.
#pragma once

#include <poll.h>

#include <cerrno>
#include <chrono>

namespace brokerkey {

// Waits until `fd` is ready for `events` (POLLIN, POLLOUT) before `deadline`; false on timeout
// or error. A signal does not cut the wait short.
inline bool ready_before(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    struct pollfd p {fd, events, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    return ready > 0;
  }
}

}  // namespace brokerkey
