#include "peer.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace brokerkey::agent {

namespace {

// The executable is for the signing log's reader, not for any decision: the pid may already
// belong to another process. Reading /proc/PID/exe needs ptrace access to the peer, which the
// agent's account has only for its own processes; /proc/PID/comm is readable by anyone.
std::string executable_of(pid_t pid) {
  std::string proc = "/proc/" + std::to_string(pid);
  char target[4096];
  ssize_t n = ::readlink((proc + "/exe").c_str(), target, sizeof target - 1);
  if (n > 0) return std::string(target, static_cast<std::size_t>(n));
  std::ifstream comm(proc + "/comm");
  std::string name;
  if (comm && std::getline(comm, name) && !name.empty()) return "[" + name + "]";
  return {};
}

}  // namespace

Peer peer_of(int socket_fd) {
  struct ucred credentials {};
  socklen_t size = sizeof credentials;
  if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) {
    throw file_error(std::string("SO_PEERCRED: ") + std::strerror(errno));
  }
  Peer peer{credentials.pid, credentials.uid, credentials.gid, {}, {}};
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 4; ++attempt) {
    socklen_t bytes = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes) == 0) {
      groups.resize(bytes / sizeof(gid_t));
      peer.groups = std::move(groups);
      break;
    }
    if (errno != ERANGE) throw file_error(std::string("SO_PEERGROUPS: ") + std::strerror(errno));
    groups.resize(bytes / sizeof(gid_t) + 16);
  }
  peer.executable = executable_of(peer.pid);
  return peer;
}

}  // namespace brokerkey::agent
